// Package bench is Kessai's load harness: bounded, loopback-only scenarios against a running
// server, reporting throughput, latency percentiles and errors by wire code. Figures in
// BENCHMARKS.md come from here.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config bounds a run: it stops at Duration or after Requests, whichever comes first.
type Config struct {
	Addrs    []string // host:port of one or more instances (round-robin)
	AID      string
	Clients  int
	Duration time.Duration
	Requests int64
	Scenario string // capture | auth-sales | hosted | mixed | cvs | bank
	Card     string
	Expiry   string // YYMM
	RunID    string // makes cod values unique across runs
	// Rate, when positive, caps the requests started per second across all clients (for soak
	// runs at a fraction of capacity). With OpenLoop it is the schedule's rate instead.
	Rate float64
	// OpenLoop, with Rate, offers a fixed load whatever the server does: requests are due at
	// exact intervals of 1/Rate, Clients workers send them, and each latency runs from the
	// request's due time, not from when a worker got to it, so a server that falls behind has
	// its queueing counted (no coordinated omission). See runOpen.
	OpenLoop bool
	// OnTick, when set, is called about once a second with the requests done so far (for mixed
	// scenarios that start maintenance mid-run).
	OnTick func(elapsed time.Duration)
}

// Report is a run's outcome.
type Report struct {
	Scenario    string
	Clients     int
	Elapsed     time.Duration
	OK          int64
	Errors      map[string]int64 // by wire code (ER999, …) or transport error
	P50, P95    time.Duration
	P99, Max    time.Duration
	PerSecond   float64
	HTTPPerSec  float64
	HTTPRequest int64
	// Open loop only (Config.OpenLoop); zero otherwise.
	OpenLoop bool          `json:",omitempty"`
	Target   float64       `json:",omitempty"` // requests due per second (Config.Rate)
	Offered  float64       `json:",omitempty"` // requests actually sent per second of the schedule
	Due      int64         `json:",omitempty"` // requests the schedule held
	Late     int64         `json:",omitempty"` // due while every worker was busy: waited for one (the wait is in their latency)
	Behind   int64         `json:",omitempty"` // due but never sent: the workers' backlog when the schedule ended
	MaxLag   time.Duration `json:",omitempty"` // longest time between a request's due time and its sending
}

// CheckLoopback refuses any target that is not on this machine's loopback.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: want HOST:PORT", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("bench targets loopback only (127.0.0.0/8, ::1, localhost), not %q", host)
	}
	return nil
}

// Run executes a scenario.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("no address")
	}
	for _, a := range cfg.Addrs {
		if err := CheckLoopback(a); err != nil {
			return nil, err
		}
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 32
	}
	if cfg.Duration <= 0 || cfg.Duration > time.Hour {
		return nil, errors.New("duration must be between 0 and 1h")
	}
	if cfg.Requests <= 0 {
		cfg.Requests = 1_000_000
	}
	if cfg.RunID == "" {
		cfg.RunID = fmt.Sprintf("b%x", time.Now().UnixNano()&0xffffffffff)
	}
	tr := &http.Transport{MaxIdleConns: cfg.Clients * 2, MaxIdleConnsPerHost: cfg.Clients * 2, IdleConnTimeout: 30 * time.Second,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer tr.CloseIdleConnections()
	if cfg.OpenLoop {
		if cfg.Rate <= 0 {
			return nil, errors.New("open loop needs a rate (requests per second)")
		}
		return runOpen(ctx, cfg, client)
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var issued, ok, httpN atomic.Int64
	var mu sync.Mutex
	errs := map[string]int64{}
	lat := make([][]time.Duration, cfg.Clients)
	start := time.Now()
	var tokens chan struct{}
	if cfg.Rate > 0 {
		tokens = make(chan struct{}, int(cfg.Rate/10)+1)
		go func() {
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			acc := 0.0
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					for acc += cfg.Rate / 100; acc >= 1; acc-- {
						select {
						case tokens <- struct{}{}:
						default:
						}
					}
				}
			}
		}()
	}
	var wg sync.WaitGroup
	if cfg.OnTick != nil {
		go everySecond(ctx, start, cfg.OnTick)
	}
	for c := 0; c < cfg.Clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if tokens != nil {
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					}
				}
				n := issued.Add(1)
				if n > cfg.Requests {
					return
				}
				base := "http://" + cfg.Addrs[int(n)%len(cfg.Addrs)]
				cod := orderNumber(cfg.RunID, c, i)
				t0 := time.Now()
				code, calls, err := one(ctx, client, base, cfg, cod, c, i)
				d := time.Since(t0)
				httpN.Add(int64(calls))
				if ctx.Err() != nil && err != nil {
					return // cut off by the deadline: not an error of the server
				}
				if err != nil {
					code = "transport: " + shortErr(err)
				}
				if code == "" {
					ok.Add(1)
					lat[c] = append(lat[c], d)
				} else {
					mu.Lock()
					errs[code]++
					mu.Unlock()
				}
			}
		}(c)
	}
	wg.Wait()
	el := time.Since(start)
	r := &Report{Scenario: cfg.Scenario, Clients: cfg.Clients, Elapsed: el, OK: ok.Load(), Errors: errs, HTTPRequest: httpN.Load()}
	r.percentiles(lat)
	r.PerSecond = float64(r.OK) / el.Seconds()
	r.HTTPPerSec = float64(r.HTTPRequest) / el.Seconds()
	return r, nil
}

// percentiles sets P50 … Max from the latencies of successful requests (one slice per client).
func (r *Report) percentiles(lat [][]time.Duration) {
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		i := int(float64(len(all))*p+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(all) {
			i = len(all) - 1
		}
		return all[i]
	}
	r.P50, r.P95, r.P99 = pct(0.50), pct(0.95), pct(0.99)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

// orderNumber is the cod of client c's i-th request. A letter before each number: a run ID that
// happens to be all decimal digits followed by "-c-i" would be hyphen-separated digit groups that
// can pass the card-number guard (wire.LooksLikeCardNumber) and be refused with ER054, as about a
// tenth of one run's payments were.
func orderNumber(runID string, c, i int) string {
	return fmt.Sprintf("%s-c%d-i%d", runID, c, i)
}

// one performs one scenario step and returns "" on success or the wire code.
func one(ctx context.Context, c *http.Client, base string, cfg Config, cod string, client, i int) (string, int, error) {
	scenario := cfg.Scenario
	switch scenario {
	case "soak": // a mix: most payments captured at once, some authorised then captured
		scenario = "capture"
		if i%4 == 3 {
			scenario = "auth-sales"
		}
	case "mixed": // every kind of traffic (and the maintenance window Run starts and ends)
		switch i % 8 {
		case 5, 6:
			scenario = "auth-sales"
		case 7:
			scenario = "hosted"
		default:
			scenario = "capture"
		}
	}
	switch scenario {
	case "auth-sales":
		line, err := post(ctx, c, base+"/gateway/gateway.aspx", chargeForm(cfg, cod, "AUTH"))
		if err != nil {
			return "", 1, err
		}
		gid, code := parseLine(line)
		if code != "" {
			return code, 1, nil
		}
		body, err := post(ctx, c, base+"/gateway/gateway.aspx", url.Values{"aid": {cfg.AID}, "jb": {"SALES"}, "rt": {"0"}, "tid": {gid}})
		if err != nil {
			return "", 2, err
		}
		if strings.TrimSpace(body) != "OK" {
			return strings.TrimPrefix(strings.TrimSpace(body), "ER:"), 2, nil
		}
		return "", 2, nil
	case "hosted":
		// the shopper's two steps: the merchant's form opens the hosted page, then the card is
		// paid on it (cookie, anti-forgery token and signed order taken from the page)
		f := url.Values{"aid": {cfg.AID}, "jb": {"CAPTURE"}, "cod": {cod}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"}, "inm": {"ベンチ商品"}}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/link/creditcard", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			return "", 1, err
		}
		page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			return "ER999", 1, nil
		}
		m := cardForm.FindSubmatch(page)
		if m == nil {
			return "page", 1, nil
		}
		pay := url.Values{"o": {string(m[1])}, "csrf": {string(m[2])}, "d": {string(m[3])}, "lang": {"ja"}, "cn": {cfg.Card},
			"exp_month": {cfg.Expiry[2:]}, "exp_year": {cfg.Expiry[:2]}, "holder": {"TARO YAMADA"}, "cvv": {"123"}}
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/link/creditcard/pay", strings.NewReader(pay.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, ck := range resp.Cookies() {
			req.AddCookie(ck)
		}
		resp, err = c.Do(req)
		if err != nil {
			return "", 2, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			return "ER999", 2, nil // the window began between the page and the payment
		}
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "/link/creditcard/result") {
			return "pay-" + strconv.Itoa(resp.StatusCode), 2, nil
		}
		return "", 2, nil
	case "cvs", "bank": // issue a convenience-store slip / a bank-transfer account (wire.md §8)
		f := url.Values{"aid": {cfg.AID}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"},
			"pn": {"0312345678"}}
		path := "/gateway/cvs2.aspx"
		if scenario == "cvs" {
			f.Set("na", "ベンチ タロウ")
			f.Set("cv", "010")
		} else {
			path = "/gateway/bank.aspx"
			f.Set("nmf", "ベンチ タロウ")
		}
		line, err := post(ctx, c, base+path, f)
		if err != nil {
			return "", 1, err
		}
		_, code := parseLine(line)
		return code, 1, nil
	default: // capture
		line, err := post(ctx, c, base+"/gateway/gateway.aspx", chargeForm(cfg, cod, "CAPTURE"))
		if err != nil {
			return "", 1, err
		}
		_, code := parseLine(line)
		return code, 1, nil
	}
}

// cardForm finds the card form's order ID, anti-forgery token and signed order on the hosted page.
var cardForm = regexp.MustCompile(`(?s)name="o" value="([^"]+)">\s*<input type="hidden" name="csrf" value="([^"]+)">\s*<input type="hidden" name="d" value="([^"]+)">`)

func chargeForm(cfg Config, cod, jb string) url.Values {
	return url.Values{"aid": {cfg.AID}, "jb": {jb}, "rt": {"1"}, "cod": {cod}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"},
		"cn": {cfg.Card}, "ed": {cfg.Expiry}, "cvv": {"123"}, "fn": {"TARO"}, "ln": {"YAMADA"}, "em": {"bench@example.com"}}
}

func post(ctx context.Context, c *http.Client, u string, form url.Values) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusServiceUnavailable {
		return "ER:ER999", nil
	}
	return string(b), err
}

// parseLine returns the gid of a successful result line, or the error code.
func parseLine(s string) (gid, code string) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "ER:") {
		return "", s[3:]
	}
	cols := strings.Split(s, ",")
	if len(cols) != 14 {
		return "", "bad-line"
	}
	if cols[1] != "1" {
		if cols[3] == "" {
			return "", "rst" + cols[1]
		}
		return "", cols[3]
	}
	return cols[0], ""
}

// Print writes the report in the form BENCHMARKS.md quotes.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "scenario=%s clients=%d elapsed=%.1fs ok=%d throughput=%.0f/s http=%.0f req/s p50=%s p95=%s p99=%s max=%s\n",
		r.Scenario, r.Clients, r.Elapsed.Seconds(), r.OK, r.PerSecond, r.HTTPPerSec, ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max))
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		fmt.Fprintln(w, "errors: none")
	}
	for _, k := range keys {
		fmt.Fprintf(w, "errors[%s]=%d\n", k, r.Errors[k])
	}
	if r.OpenLoop {
		r.printOpen(w)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

// everySecond calls fn with the time since start about once a second until ctx is done.
func everySecond(ctx context.Context, start time.Time, fn func(time.Duration)) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(time.Since(start))
		}
	}
}
