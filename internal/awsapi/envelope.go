package awsapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strings"
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

// CanonicalPaths answers a request whose path is not in canonical form
// ("//listFleets", "/./listFleets", "/a/../b") with an AWS-style 404
// instead of the redirect http.ServeMux would send: no client of this API
// follows one, and an answer outside the envelope is one SDKs cannot read.
func CanonicalPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect && cleanPath(r.URL.Path) != r.URL.Path {
			WriteError(w, http.StatusNotFound, "no operation is served at "+r.Method+" "+r.URL.EscapedPath()+": the path is not in canonical form")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath is http.ServeMux's canonical form of p: rooted, no "." or ".."
// elements, no repeated slashes, a trailing slash kept.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}
