package awsapi

import (
	"errors"
	"net/http"

	"github.com/fleetsync/fleetsync/internal/awsapi/model"
	"github.com/fleetsync/fleetsync/internal/awsapi/sigv4"
	"github.com/fleetsync/fleetsync/internal/fleet"
)

// awsError is an error as it travels on the wire.
type awsError struct {
	Code    string
	Status  int
	Message string
}

// codes is the one table from domain error codes to AWS error types.
var codes = map[fleet.Code]struct {
	aws    string
	status int
}{
	fleet.Invalid:              {"InvalidParameterException", http.StatusBadRequest},
	fleet.NotFound:             {"ResourceNotFoundException", http.StatusBadRequest},
	fleet.AlreadyExists:        {"ResourceAlreadyExistsException", http.StatusBadRequest},
	fleet.LimitExceeded:        {"LimitExceededException", http.StatusBadRequest},
	fleet.Throttled:            {"ThrottlingException", http.StatusBadRequest},
	fleet.ConcurrentDeployment: {"ConcurrentDeploymentException", http.StatusBadRequest},
	fleet.IdempotentMismatch:   {"IdempotentParameterMismatchException", http.StatusBadRequest},
	fleet.Unavailable:          {"ServiceUnavailableException", http.StatusServiceUnavailable},
	fleet.Internal:             {"InternalServerException", http.StatusInternalServerError},
}

// toAWSError maps any error to its wire form. internal reports whether the
// error is a server fault whose details must be logged and not sent.
func toAWSError(err error) (e awsError, internal bool) {
	var sig *sigv4.Error
	if errors.As(err, &sig) {
		status := http.StatusForbidden
		if sig.Code == "IncompleteSignatureException" {
			status = http.StatusBadRequest
		}
		return awsError{sig.Code, status, sig.Message}, false
	}
	var ve *model.ValidationError
	if errors.As(err, &ve) {
		return awsError{"InvalidParameterException", http.StatusBadRequest, ve.Error()}, false
	}
	code := fleet.CodeOf(err)
	c := codes[code]
	switch code {
	case fleet.Internal:
		return awsError{c.aws, c.status, "An internal error occurred; the request id identifies it in the server log."}, true
	case fleet.Unavailable:
		return awsError{c.aws, c.status, "A dependency of the service is unavailable; retry later."}, true
	}
	return awsError{c.aws, c.status, fleet.Of(err).Message}, false
}
