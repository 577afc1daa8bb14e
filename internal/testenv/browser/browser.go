// Package browser starts Debian's Chromium, headless, for the browser tests of the web surfaces
// (hosted pages, control panel, operator console), driven by chromedp. The tests run only with
// KESSAI_BROWSER_TESTS=1 and then fail, rather than skip, when Chromium is missing; nothing here
// ever downloads a browser. It imports nothing of Kessai's, so any package's tests can use it.
package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Env is the variable that turns the browser tests on ("1").
const Env = "KESSAI_BROWSER_TESTS"

// chromiumPath is where Debian's package puts Chromium; PATH is searched when it is not there.
const chromiumPath = "/usr/bin/chromium"

// Options shape one test's browser.
type Options struct {
	// Lang is the browser's language and Accept-Language (e.g. "ja-JP,ja"); empty keeps
	// Chromium's own (en-US when headless).
	Lang string
	// Timeout bounds everything the test does with the browser; 0 leaves it to the test.
	Timeout time.Duration
	// FailOnDialog fails the test when a JavaScript dialog opens (an alert that an injected
	// script would raise), dismissing it.
	FailOnDialog bool
}

// Start starts a headless Chromium with a fresh profile for one test and returns its context;
// the browser is stopped and the profile removed when the test ends. It skips the test unless
// KESSAI_BROWSER_TESTS=1.
func Start(t testing.TB, o Options) context.Context {
	t.Helper()
	if os.Getenv(Env) != "1" {
		t.Skip("browser tests run with " + Env + "=1")
	}
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			t.Fatalf("%s=1 but Chromium is missing at %s and on PATH (apt-get install -y chromium): %v", Env, chromiumPath, err)
		}
		path = p
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	if o.Lang != "" {
		opts = append(opts, chromedp.Flag("accept-lang", o.Lang), chromedp.Flag("lang", firstTag(o.Lang)))
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	cancelT := context.CancelFunc(func() {})
	if o.Timeout > 0 {
		ctx, cancelT = context.WithTimeout(ctx, o.Timeout)
	}
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, so a failure to start says so
		t.Fatalf("start Chromium: %v", err)
	}
	if o.FailOnDialog {
		evs := chromedp.Events(ctx, page.JavascriptDialogOpening)
		go func() {
			for ev, err := range evs {
				if err != nil {
					return
				}
				t.Errorf("a JavaScript dialog opened: %q", ev.Message)
				chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}
		}()
	}
	return ctx
}

func firstTag(lang string) string {
	for i := 0; i < len(lang); i++ {
		if lang[i] == ',' {
			return lang[:i]
		}
	}
	return lang
}

// ScreenshotDir is ./screenshots at the module root (git-ignored), made if missing: where every
// browser test leaves its screenshots.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			out := filepath.Join(d, "screenshots")
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatal("no module root")
	return ""
}
