package fleet

import (
	"errors"
	"fmt"
)

// Code classifies a domain error. The wire layer maps each code to exactly one
// AWS error type; storage adapters translate driver errors into these codes.
type Code int

// The error codes of the domain.
const (
	// Internal is an unexpected failure; its details are logged, never sent.
	Internal Code = iota
	// Invalid is a request that breaks a rule (a bad value, a wrong state).
	Invalid
	// NotFound is a resource that does not exist in the caller's account.
	NotFound
	// AlreadyExists is a name or identity that is already taken.
	AlreadyExists
	// LimitExceeded is a quota that would be exceeded.
	LimitExceeded
	// Throttled is a caller over its request rate.
	Throttled
	// ConcurrentDeployment is a fleet that already has an active deployment job.
	ConcurrentDeployment
	// IdempotentMismatch is a client token reused with different parameters.
	IdempotentMismatch
	// Unavailable is a dependency (database, bundle store) that cannot be reached.
	Unavailable
)

// Error is a domain error: a Code plus a message safe to show the caller.
type Error struct {
	Code    Code
	Message string
	// Err is an optional cause, kept for logs and errors.Is; never shown to callers.
	Err error
}

// Error returns the caller-facing message.
func (e *Error) Error() string {
	if e.Err != nil && e.Code == Internal {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a domain error with a formatted caller-facing message.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an Internal (or other coded) error that keeps cause for the logs.
func Wrap(code Code, cause error, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// CodeOf returns the code of Of(err), Internal if none.
func CodeOf(err error) Code {
	if e := Of(err); e != nil {
		return e.Code
	}
	return Internal
}

// Of returns the *Error that classifies err: the first in its chain whose
// code is not Internal (a cause classified below an Internal wrapper, such
// as the store's busy error under "store failure", is the more precise),
// else the first *Error, else nil.
func Of(err error) *Error {
	var first *Error
	for e := err; e != nil; e = errors.Unwrap(e) {
		if fe, ok := e.(*Error); ok {
			if fe.Code != Internal {
				return fe
			}
			if first == nil {
				first = fe
			}
		}
	}
	if first == nil {
		errors.As(err, &first)
	}
	return first
}
