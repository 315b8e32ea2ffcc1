// Package e2e holds black-box tests: real fleetsyncd processes driven through
// the real AWS SDK for Go v1, the real AWS CLI and plain HTTP.
package e2e
