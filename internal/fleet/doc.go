// Package fleet is the domain vocabulary of fleetsync: fleets, robots, robot
// applications and their versions, resource names (ARNs), status enums and the
// typed errors every other layer speaks. It performs no I/O and imports no
// transport or storage code, so the wire layer, the store and the engine can
// share these types without importing each other.
package fleet
