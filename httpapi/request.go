package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// teiRequest is POST /embed's body, in text-embeddings-inference's shape.
type teiRequest struct {
	Inputs    json.RawMessage `json:"inputs"`
	Normalize *bool           `json:"normalize"`
	Truncate  *bool           `json:"truncate"`
	// TruncationDirection is TEI's; only "right" (its default) is served.
	TruncationDirection *string `json:"truncation_direction"`
	// Model is ours: TEI serves one model; ?model= is the same.
	Model *string `json:"model"`
}

// openAIRequest is POST /v1/embeddings' body, in OpenAI's shape.
type openAIRequest struct {
	Model          *string         `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat *string         `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           *string         `json:"user"` // accepted and ignored, as OpenAI's own field
}

// readBody reads the body up to limit bytes: 413 beyond it.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, kind: KindTooLarge, err: err,
				message: fmt.Sprintf("the request body is larger than %d bytes (--max-body). Send fewer or shorter texts per request", limit)}
		}
		return nil, &apiError{status: http.StatusBadRequest, kind: KindInvalidJSON, err: err,
			message: fmt.Sprintf("could not read the request body: %v", err)}
	}
	return body, nil
}

// decodeStrict decodes one JSON object into v: unknown fields, wrong types,
// trailing data and a body that is no object are 400s that name the field.
func decodeStrict(body []byte, v any, fields string) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return errf(http.StatusBadRequest, KindInvalidJSON, "the request body is empty: send a JSON object with %s", fields)
	}
	if b := bytes.TrimSpace(body); b[0] != '{' {
		return errf(http.StatusBadRequest, KindInvalidJSON, "the request body must be a JSON object with %s", fields)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return &apiError{status: http.StatusBadRequest, kind: KindInvalidInput, err: err,
				message: fmt.Sprintf("field %q must be a JSON %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)}
		case errors.As(err, &se):
			return &apiError{status: http.StatusBadRequest, kind: KindInvalidJSON, err: err,
				message: fmt.Sprintf("the request body is not valid JSON (at byte %d: %v)", se.Offset, err)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return &apiError{status: http.StatusBadRequest, kind: KindInvalidInput, err: err,
				message: fmt.Sprintf("%s; the fields are %s", strings.TrimPrefix(err.Error(), "json: "), fields)}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return &apiError{status: http.StatusBadRequest, kind: KindInvalidJSON, err: err,
				message: "the request body is not valid JSON (it ends early)"}
		}
		return &apiError{status: http.StatusBadRequest, kind: KindInvalidJSON, err: err,
			message: fmt.Sprintf("the request body is not valid JSON: %v", err)}
	}
	if dec.More() {
		return errf(http.StatusBadRequest, KindInvalidJSON, "the request body has data after its JSON object: send one object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errf(http.StatusBadRequest, KindInvalidJSON, "the request body has data after its JSON object: send one object")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "bool":
		return "boolean (true or false)"
	case "string":
		return "string"
	case "ptr":
		return "value of another type"
	case "int", "int64":
		return "integer"
	}
	return goKind
}

// parseInputs reads a string or a list of strings (field is its name):
// empty, null, wrong types, token arrays and more than max texts are 400s.
func parseInputs(raw json.RawMessage, field string, max int) ([]string, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, errf(http.StatusBadRequest, KindEmptyInput, "field %q is missing: send a string or a list of 1 to %d strings", field, max)
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errf(http.StatusBadRequest, KindInvalidJSON, "field %q is not a valid JSON string: %v", field, err)
		}
		if s == "" {
			return nil, errf(http.StatusBadRequest, KindEmptyInput, "field %q is the empty string: send a non-empty text", field)
		}
		return []string{s}, nil
	case '[':
	default:
		return nil, errf(http.StatusBadRequest, KindInvalidInput, "field %q must be a string or a list of strings, not %s", field, describeJSON(raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errf(http.StatusBadRequest, KindInvalidJSON, "field %q is not a valid JSON list: %v", field, err)
	}
	if len(items) == 0 {
		return nil, errf(http.StatusBadRequest, KindEmptyInput, "field %q is an empty list: send 1 to %d strings", field, max)
	}
	if len(items) > max {
		return nil, errf(http.StatusBadRequest, KindTooManyInputs, "field %q has %d texts; this server takes at most %d per request (--max-inputs): split the request", field, len(items), max)
	}
	texts := make([]string, len(items))
	for i, it := range items {
		if len(it) == 0 || it[0] != '"' {
			d := describeJSON(it)
			if len(it) > 0 && (it[0] == '-' || (it[0] >= '0' && it[0] <= '9') || it[0] == '[') {
				return nil, errf(http.StatusBadRequest, KindUnsupported, "field %q item %d is %s: token arrays are not served; send the texts as strings", field, i, d)
			}
			return nil, errf(http.StatusBadRequest, KindInvalidInput, "field %q item %d must be a string, not %s", field, i, d)
		}
		if err := json.Unmarshal(it, &texts[i]); err != nil {
			return nil, errf(http.StatusBadRequest, KindInvalidJSON, "field %q item %d is not a valid JSON string: %v", field, i, err)
		}
		if texts[i] == "" {
			return nil, errf(http.StatusBadRequest, KindEmptyInput, "field %q item %d is the empty string: send non-empty texts", field, i)
		}
	}
	return texts, nil
}

// describeJSON names a JSON value's type for a message.
func describeJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch c := raw[0]; {
	case c == '{':
		return "an object"
	case c == '[':
		return "a list"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	default:
		return "a number"
	}
}
