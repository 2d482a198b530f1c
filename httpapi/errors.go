package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/inference/modelset"
	"github.com/flinkfn/flinkfn/memory"
)

// Error kinds: the "error" field of every error response.
const (
	KindInvalidJSON   = "invalid_json"
	KindInvalidInput  = "invalid_input"
	KindEmptyInput    = "empty_input"
	KindTooManyInputs = "too_many_inputs"
	KindUnknownModel  = "unknown_model"
	KindUnsupported   = "unsupported"
	KindTooLarge      = "payload_too_large"
	KindTooLong       = "input_too_long"
	KindQueueFull     = "queue_full"
	KindNotReady      = "not_ready"
	KindDraining      = "draining"
	KindTimeout       = "timeout"
	KindOutOfMemory   = "out_of_memory"
	KindUnauthorized  = "unauthorized"
	KindInternal      = "internal"
)

// apiError is an error response: its status, kind and message (which says
// what is wrong and what to do).
type apiError struct {
	status  int
	kind    string
	message string
	// retryAfter, in seconds, is sent as Retry-After when > 0.
	retryAfter int
	err        error // the cause, for the access log
}

func (e *apiError) Error() string { return e.kind + ": " + e.message }
func (e *apiError) Unwrap() error { return e.err }

func errf(status int, kind, format string, args ...any) *apiError {
	return &apiError{status: status, kind: kind, message: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON of an error response.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// openAIErrorBody is the error of the OpenAI-shaped routes (/v1/...):
// OpenAI's {"error": {"message", "type", "code"}}, which its SDKs read, and
// the message again at the top level.
type openAIErrorBody struct {
	Error   openAIError `json:"error"`
	Message string      `json:"message"`
}

type openAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Code    string  `json:"code"`
	Param   *string `json:"param"`
}

// writeError sends e as JSON: {error, message}, or OpenAI's shape.
func writeError(w http.ResponseWriter, e *apiError, openAI bool) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="flinkfn"`)
	}
	if openAI {
		writeJSON(w, e.status, openAIErrorBody{Error: openAIError{Message: e.message, Type: e.kind, Code: e.kind}, Message: e.message})
		return
	}
	writeJSON(w, e.status, errorBody{Error: e.kind, Message: e.message})
}

// classify maps an error from the model path to its response: the place
// where the model's, the budget's and the context's errors become statuses.
func classify(err error, model string, timeout string) *apiError {
	var ae *apiError
	var unknown *modelset.UnknownModelError
	var refused *memory.RefusedError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &unknown):
		return &apiError{status: http.StatusBadRequest, kind: KindUnknownModel, message: unknown.Error(), err: err}
	case errors.As(err, &refused):
		return &apiError{status: http.StatusInsufficientStorage, kind: KindOutOfMemory, retryAfter: 1, err: err,
			message: fmt.Sprintf("the pool's memory budget cannot take this request now (%v). Send fewer or shorter texts per request, retry later, or give the pool more memory (--memory-limit)", err)}
	case errors.Is(err, inference.ErrDeviceOutOfMemory):
		// The model's GPU arena could not take the batch this request was
		// in; the engine goes on with the next batches.
		return &apiError{status: http.StatusInsufficientStorage, kind: KindOutOfMemory, retryAfter: 1, err: err,
			message: fmt.Sprintf("model %s ran out of GPU memory on the batch holding this request (%v). Send fewer or shorter texts per request, retry later, or give the model more GPU memory (--gpu-memory-fraction) or smaller batches (--max-batch-tokens)", model, err)}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusGatewayTimeout, kind: KindTimeout, err: err,
			message: fmt.Sprintf("model %s did not answer within the request deadline (%s): the engine is busy. Send fewer texts per request, retry later, or raise --request-timeout", model, timeout)}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this.
		return &apiError{status: statusClientClosed, kind: "canceled", message: "the client closed the request", err: err}
	}
	return &apiError{status: http.StatusInternalServerError, kind: KindInternal, err: err,
		message: fmt.Sprintf("model %s failed: %v. The server's log has the details", model, err)}
}

// statusClientClosed is logged (never sent) for a request whose client
// disconnected before its answer (nginx's 499).
const statusClientClosed = 499
