package api

import (
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 problem detail, the body of every error the JSON API answers.
type Problem struct {
	Type          string         `json:"type"`
	Title         string         `json:"title"`
	Status        int            `json:"status"`
	Detail        string         `json:"detail,omitempty"`
	Instance      string         `json:"instance,omitempty"`
	InvalidParams []InvalidParam `json:"invalid_params,omitempty"`
}

// InvalidParam names one bad parameter of a request and says what is wrong with it.
type InvalidParam struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// ProblemBase prefixes the type URI of every problem; the slug after it names the kind.
const ProblemBase = "https://kessai.example/problems/"

func writeProblem(w http.ResponseWriter, r *http.Request, status int, slug, title, detail string, bad ...InvalidParam) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kessai"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Problem{Type: ProblemBase + slug, Title: title, Status: status, Detail: detail,
		Instance: r.URL.Path, InvalidParams: bad})
}

func badRequest(w http.ResponseWriter, r *http.Request, detail string, bad ...InvalidParam) {
	writeProblem(w, r, http.StatusBadRequest, "invalid-request", "Invalid request", detail, bad...)
}

func notFound(w http.ResponseWriter, r *http.Request, detail string) {
	writeProblem(w, r, http.StatusNotFound, "not-found", "Not found", detail)
}

func unavailable(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", "Temporarily unavailable",
		"storage is unavailable; try again shortly")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
