package proto

// HeaderAgentVersion carries the agent's build version (package version) on
// every agent request. It is informational, outside the signature: the
// server records it only for requests that authenticated.
const HeaderAgentVersion = "X-Fleetsync-Agent-Version"
