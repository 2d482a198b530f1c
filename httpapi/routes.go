package httpapi

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/flinkfn/flinkfn/observe"
)

const teiFields = `"inputs" (a string or a list of strings), "normalize", "truncate", "truncation_direction", "model"`

// embedTEI is POST /embed: {"inputs": "text" | ["text", ...], "normalize":
// true, "truncate": bool} gives [[float, ...], ...].
func (s *Server) embedTEI(w http.ResponseWriter, r *http.Request, ri *reqInfo) *apiError {
	body, ae := readBody(w, r, s.o.Limits.MaxBodyBytes)
	if ae != nil {
		return ae
	}
	var req teiRequest
	if ae := decodeStrict(body, &req, teiFields); ae != nil {
		return ae
	}
	texts, ae := parseInputs(req.Inputs, "inputs", s.o.Limits.MaxInputs)
	if ae != nil {
		return ae
	}
	name := r.URL.Query().Get("model")
	if req.Model != nil {
		if name != "" && name != *req.Model {
			return errf(http.StatusBadRequest, KindInvalidInput, "?model=%s and the body's \"model\": %q disagree: name the model once", name, *req.Model)
		}
		name = *req.Model
		if name == "" {
			return errf(http.StatusBadRequest, KindUnknownModel, "field \"model\" is the empty string: name a model (GET /info lists them) or leave the field out for the default")
		}
	}
	m, ae := s.model(name)
	if ae != nil {
		return ae
	}
	if req.Normalize != nil && !*req.Normalize && m.Normalized {
		return errf(http.StatusBadRequest, KindUnsupported, "model %s normalises its vectors (its manifest says so): \"normalize\": false is not served; leave it out or send true", m.Name)
	}
	if req.TruncationDirection != nil && !strings.EqualFold(*req.TruncationDirection, "right") {
		return errf(http.StatusBadRequest, KindUnsupported, "\"truncation_direction\": %q is not served: texts are truncated at the right (send \"right\" or leave it out)", *req.TruncationDirection)
	}
	truncate := !s.o.Limits.StrictLength
	if req.Truncate != nil {
		truncate = *req.Truncate
	}
	vecs, ae := s.embed(r.Context(), &job{model: m, texts: texts, truncate: truncate, body: len(body)}, ri)
	if ae != nil {
		return ae
	}
	b := make([]byte, 0, len(vecs)*m.Dims*11+16)
	b = append(b, '[')
	for i, v := range vecs {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendFloats(b, v)
	}
	b = append(b, "]\n"...)
	writeBytes(w, http.StatusOK, b)
	return nil
}

const openAIFields = `"model", "input" (a string or a list of strings), "encoding_format" (float or base64), "dimensions", "user"`

// embedOpenAI is POST /v1/embeddings in OpenAI's shape.
func (s *Server) embedOpenAI(w http.ResponseWriter, r *http.Request, ri *reqInfo) *apiError {
	body, ae := readBody(w, r, s.o.Limits.MaxBodyBytes)
	if ae != nil {
		return ae
	}
	var req openAIRequest
	if ae := decodeStrict(body, &req, openAIFields); ae != nil {
		return ae
	}
	texts, ae := parseInputs(req.Input, "input", s.o.Limits.MaxInputs)
	if ae != nil {
		return ae
	}
	name := ""
	if req.Model != nil {
		if name = *req.Model; name == "" {
			return errf(http.StatusBadRequest, KindUnknownModel, "field \"model\" is the empty string: name a model (GET /v1/models lists them) or leave the field out for the default")
		}
	}
	m, ae := s.model(name)
	if ae != nil {
		return ae
	}
	format := "float"
	if req.EncodingFormat != nil {
		format = *req.EncodingFormat
	}
	if format != "float" && format != "base64" {
		return errf(http.StatusBadRequest, KindInvalidInput, "\"encoding_format\": %q is not served: send \"float\" or \"base64\"", format)
	}
	if req.Dimensions != nil && *req.Dimensions != m.Dims {
		return errf(http.StatusBadRequest, KindUnsupported, "\"dimensions\": %d is not served: model %s gives %d dimensions (leave the field out or send %d)", *req.Dimensions, m.Name, m.Dims, m.Dims)
	}
	vecs, ae := s.embed(r.Context(), &job{model: m, texts: texts, truncate: !s.o.Limits.StrictLength, body: len(body)}, ri)
	if ae != nil {
		return ae
	}
	tokens := 0
	for i := range texts {
		if i < len(vecs) && len(ri.tokens) > i {
			tokens += ri.tokens[i]
		}
	}
	per := m.Dims * 11
	if format == "base64" {
		per = base64.StdEncoding.EncodedLen(m.Dims * 4)
	}
	b := make([]byte, 0, len(vecs)*(per+48)+128)
	b = append(b, `{"object":"list","data":[`...)
	raw := make([]byte, m.Dims*4)
	for i, v := range vecs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		if format == "base64" {
			raw = raw[:0]
			for _, x := range v {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(x))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		} else {
			b = AppendFloats(b, v)
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = strconv.AppendQuote(b, m.Name)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, "}}\n"...)
	writeBytes(w, http.StatusOK, b)
	return nil
}

// AppendFloats writes v as a JSON array, each float32 in its shortest text
// that reads back to the same float32 (the API's vectors; `flinkfn embed`'s
// output lines too).
func AppendFloats(b []byte, v []float32) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return append(b, ']')
}

// infoBody is GET /info, in the spirit of TEI's (model_id,
// max_input_length, max_client_batch_size, ...), listing every model.
type infoBody struct {
	ModelID            string      `json:"model_id"`
	ModelType          string      `json:"model_type"`
	MaxInputLength     int         `json:"max_input_length"`
	MaxClientBatchSize int         `json:"max_client_batch_size"`
	Limits             limitsBody  `json:"limits"`
	Models             []ModelInfo `json:"models"`
	Version            string      `json:"version"`
}

type limitsBody struct {
	Limits
	TimeoutSeconds float64 `json:"timeout_seconds"`
	AutoTruncate   bool    `json:"auto_truncate"`
}

func (s *Server) info(w http.ResponseWriter, _ *http.Request, _ *reqInfo) *apiError {
	def := s.models[s.o.Models.Default()]
	writeJSON(w, http.StatusOK, infoBody{
		ModelID: def.Name, ModelType: "embedding", MaxInputLength: def.MaxTokens, MaxClientBatchSize: s.o.Limits.MaxInputs,
		Limits: limitsBody{Limits: s.o.Limits, TimeoutSeconds: s.o.Limits.Timeout.Seconds(), AutoTruncate: !s.o.Limits.StrictLength},
		Models: s.o.Catalog, Version: s.o.Version,
	})
	return nil
}

// listModels is GET /v1/models in OpenAI's shape.
func (s *Server) listModels(w http.ResponseWriter, _ *http.Request, _ *reqInfo) *apiError {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	out := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list"}
	for _, m := range s.o.Catalog {
		out.Data = append(out.Data, model{ID: m.Name, Object: "model", Created: s.started.Unix(), OwnedBy: "flinkfn"})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// healthBody is GET /health: status, the default model and uptime.
type healthBody struct {
	Status        string   `json:"status"`
	Model         string   `json:"model"`
	Models        []string `json:"models"`
	UptimeSeconds float64  `json:"uptime_seconds"`
	Version       string   `json:"version"`
	Reason        string   `json:"reason,omitempty"`
	// GPU is the GPU memory of each model on a GPU; absent on the CPU.
	GPU []observe.GPUMemory `json:"gpu,omitempty"`
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request, _ *reqInfo) *apiError {
	hb := healthBody{Status: "ok", Model: s.o.Models.Default(), UptimeSeconds: s.o.Now().Sub(s.started).Seconds(), Version: s.o.Version}
	for _, m := range s.o.Catalog {
		hb.Models = append(hb.Models, m.Name)
	}
	if s.o.Metrics != nil {
		hb.GPU = s.o.Metrics.GPU()
	}
	code := http.StatusOK
	if ae := s.readyErr(); ae != nil {
		hb.Status, hb.Reason, code = ae.kind, ae.message, ae.status
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, code, hb)
	return nil
}
