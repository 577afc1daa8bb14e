package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"kessai/internal/testenv"
)

// docPath is the OpenAPI document kept in the repository; the server embeds and serves it.
const docPath = "../web/public/openapi.json"

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("the OpenAPI document does not load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("the document is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	return doc
}

// TestOpenAPIDocumentDescribesEveryRoute validates the document with kin-openapi, checks the
// server serves exactly it, then calls every operation it describes (successes and errors) on a
// real server and validates each real response against it.
func TestOpenAPIDocumentDescribesEveryRoute(t *testing.T) {
	doc := loadDoc(t)
	doc.Servers = nil // route on paths alone
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.charge("oa-1", nil)
	waitFor(t, "a delivered kickback", func() bool { return e.rcv.count("oa-1") == 1 })
	id := e.list("").Data[0].ID

	served := map[string]bool{} // "METHOD path-template" exercised
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()}}
	check := func(method, path, key string, hdr map[string]string, body io.Reader, ctype string, wantStatus int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, e.s.URL+path, body)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := testenv.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, wantStatus, b)
		}
		rreq, _ := http.NewRequest(method, path, nil)
		route, params, err := router.FindRoute(rreq)
		if err != nil {
			t.Fatalf("%s %s is not in the OpenAPI document: %v", method, path, err)
		}
		served[method+" "+route.Path] = true
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: rreq, PathParams: params, Route: route, Options: opts},
			Status:                 resp.StatusCode, Header: resp.Header, Options: opts}
		in.SetBodyBytes(b)
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s → %d does not match the document: %v\n%s", method, path, resp.StatusCode, err, b)
		}
		return b
	}
	js := func(v any) io.Reader { b, _ := json.Marshal(v); return bytes.NewReader(b) }

	check("GET", "/api/maintenance", "", nil, nil, "", 200)
	spec := check("GET", "/api/openapi.json", "", nil, nil, "", 200)
	repo, _ := os.ReadFile(docPath)
	if !bytes.Equal(bytes.TrimSpace(spec), bytes.TrimSpace(repo)) {
		t.Error("the served /api/openapi.json differs from the document in the repository")
	}
	check("GET", "/api/v1/kickbacks", e.key, nil, nil, "", 200)
	check("GET", "/api/v1/kickbacks?limit=1", e.key, nil, nil, "", 200)
	check("GET", "/api/v1/kickbacks", "", nil, nil, "", 401)
	check("GET", "/api/v1/kickbacks", "ksk_revoked-or-unknown-000000000000", nil, nil, "", 401)
	check("GET", "/api/v1/kickbacks?state=lost", e.key, nil, nil, "", 400)
	check("GET", fmt.Sprintf("/api/v1/kickbacks/%d", id), e.key, nil, nil, "", 200)
	check("GET", "/api/v1/kickbacks/999999", e.key, nil, nil, "", 404)
	check("POST", fmt.Sprintf("/api/v1/kickbacks/%d/resend", id), e.key, nil, nil, "", 202)
	check("POST", "/api/v1/kickbacks/999999/resend", e.key, nil, nil, "", 404)
	check("POST", "/api/v1/kickbacks/resend?cod=oa-1", e.key, nil, nil, "", 202)
	check("POST", "/api/v1/kickbacks/resend", e.key, nil, nil, "", 400)
	check("GET", "/api/v1/kickbacks/stream?after=x", e.key, nil, nil, "", 400)
	check("GET", "/api/v1/sandbox/clock", e.key, nil, nil, "", 200)
	check("GET", "/api/v1/sandbox/clock", "", nil, nil, "", 401)
	check("POST", "/api/v1/sandbox/clock", e.key, nil, js(map[string]any{"advance": "1h"}), "application/json", 200)
	check("POST", "/api/v1/sandbox/clock", e.key, nil, js(map[string]any{"rate": 0}), "application/json", 400)
	check("GET", "/console/api/summary", "", nil, nil, "", 401)
	form := url.Values{"aid": {e.aid}, "cn": {"4111111111111111"}, "ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"}}
	tok := check("POST", "/gateway/token.json", "", nil, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", 200)
	form.Set("cvv", "12x")
	check("POST", "/gateway/token.json", "", nil, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", 400)
	form.Set("cvv", "123")
	check("POST", "/gateway/token.json", "", map[string]string{"Kessai-Scenario": "cvc"}, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", 400)
	var tj struct{ Token string }
	json.Unmarshal(tok, &tj)
	tds := url.Values{"aid": {e.aid}, "tkn": {tj.Token}, "am": {"1000"}, "tx": {"0"}, "sf": {"0"}, "em": {"taro@example.com"}}
	check("POST", "/gateway/3ds/authenticate.json", "", nil, strings.NewReader(tds.Encode()), "application/x-www-form-urlencoded", 200)
	check("POST", "/gateway/3ds/complete.json", "", nil, strings.NewReader(url.Values{"aid": {e.aid}}.Encode()), "application/x-www-form-urlencoded", 400)

	// the stream: an SSE answer whose events match StreamEvent
	req, _ := http.NewRequest("GET", e.s.URL+"/api/v1/kickbacks/stream?since=3h", nil) // the clock was advanced an hour above
	req.Header.Set("Authorization", "Bearer "+e.key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rreq, _ := http.NewRequest("GET", "/api/v1/kickbacks/stream", nil)
	route, params, _ := router.FindRoute(rreq)
	served["GET "+route.Path] = true
	in := &openapi3filter.ResponseValidationInput{RequestValidationInput: &openapi3filter.RequestValidationInput{Request: rreq, PathParams: params, Route: route},
		Status: 200, Header: resp.Header, Options: &openapi3filter.Options{ExcludeResponseBody: true, IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("stream response: %v", err)
	}
	sc := bufio.NewScanner(resp.Body)
	events := 0
	for sc.Scan() && events < 3 { // created, resend, bulk resend
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var v any
			json.Unmarshal([]byte(data), &v)
			if err := doc.Components.Schemas["StreamEvent"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
				t.Errorf("stream event does not match StreamEvent: %v\n%s", err, data)
			}
			events++
		}
	}
	resp.Body.Close()
	if events != 3 {
		t.Fatalf("stream gave %d events, want 3", events)
	}

	// every operation of the document was exercised
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations never exercised against the document: %v", missing)
	}
}
