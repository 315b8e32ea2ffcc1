package fleet

// ListQuery selects one page of an account's resources in (creation time,
// ARN) order. It is domain vocabulary: the wire layer and the console build
// it, the domain services check its filters, the store runs it.
type ListQuery struct {
	Account string
	// Filters are exact-match filters ANDed together; the names each list
	// accepts are documented on the method that takes it.
	Filters map[string]string
	After   *Cursor
	Limit   int
}

// TaggedFleet is a fleet found by one of its tags (continuous sync reads
// fleets tagged fleetsync:autoSync this way).
type TaggedFleet struct {
	Account  string
	ARN      string
	TagValue string
	// Registered is how many of its robots are Registered.
	Registered int
}
