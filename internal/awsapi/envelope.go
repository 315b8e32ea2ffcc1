package awsapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// Answers made outside an operation (by the server's connection limits, or
// standing in for the plain-text errors Go's HTTP server writes itself) go
// out in the same AWS envelope as every other error: an x-amzn-ErrorType
// header and a {"__type","message"} body.

// transportCodes maps the statuses the HTTP layer answers by itself to AWS
// error types.
var transportCodes = map[int]string{
	http.StatusBadRequest:                  "SerializationException",
	http.StatusNotFound:                    "UnknownOperationException",
	http.StatusRequestHeaderFieldsTooLarge: "RequestHeaderFieldsTooLargeException",
	http.StatusRequestEntityTooLarge:       "RequestEntityTooLargeException",
	http.StatusServiceUnavailable:          "ServiceUnavailableException",
	http.StatusTooManyRequests:             "ThrottlingException",
}

// TransportCode is the AWS error type of a status the HTTP layer answers.
func TransportCode(status int) string {
	if c, ok := transportCodes[status]; ok {
		return c
	}
	if status >= 500 {
		return "InternalServerException"
	}
	return "InvalidParameterException"
}

// WriteError answers w with status in the AWS envelope.
func WriteError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("x-amzn-RequestId", requestID())
	writeError(w, awsError{TransportCode(status), status, message})
}

// RawErrorResponse is a whole HTTP/1.1 error response in the AWS envelope
// that closes the connection, for writing on a bare connection.
func RawErrorResponse(status int, message string) []byte {
	code := TransportCode(status)
	body, _ := json.Marshal(map[string]string{"__type": code, "message": message})
	body = append(body, '\n')
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nX-Amzn-Errortype: %s\r\nX-Amzn-Requestid: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		status, http.StatusText(status), code, requestID(), len(body))
	b.Write(body)
	return b.Bytes()
}
