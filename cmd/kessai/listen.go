package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"kessai/internal/api"
	"kessai/internal/listen"
	"kessai/internal/store"
)

// apiFlags are the flags of commands that talk to a running server's JSON API.
type apiFlags struct {
	url, key string
}

func (a *apiFlags) register(fsReg interface {
	StringVar(p *string, name, value, usage string)
}) {
	fsReg.StringVar(&a.url, "url", os.Getenv("KESSAI_URL"), "base URL of the Kessai server (env KESSAI_URL)")
	fsReg.StringVar(&a.key, "key", os.Getenv("KESSAI_API_KEY"), "store API key, ksk_… (env KESSAI_API_KEY; kessai apikey create)")
}

func (a *apiFlags) check() error {
	if a.url == "" || a.key == "" {
		return usageErr("give --url and --key (or KESSAI_URL and KESSAI_API_KEY)")
	}
	if u, err := url.Parse(a.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErr("--url %q: want http(s)://host[:port]", a.url)
	}
	return nil
}

// cmdListen forwards the store's kickbacks to a local server, back-filling with --since.
func cmdListen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("listen", stderr)
	var af apiFlags
	af.register(fs)
	fwd := fs.String("forward-to", "", "local URL that receives each kickback as a GET, e.g. http://localhost:3000/notify")
	since := fs.String("since", "", "back-fill kickbacks from this long ago (2h, 3d) or this RFC 3339 time, then go live")
	events := fs.String("events", "", "forward only these kinds, comma-separated: "+strings.Join(store.Categories, ", "))
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if err := af.check(); err != nil {
		return err
	}
	if u, err := url.Parse(*fwd); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErr("--forward-to %q: want http(s)://host[:port]/path", *fwd)
	}
	if *since != "" {
		if _, err := api.ParseSince(*since, timeNow()); err != nil {
			return usageErr("--since %v", err)
		}
	}
	var kinds []string
	for _, k := range strings.Split(*events, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		ok := false
		for _, c := range store.Categories {
			ok = ok || c == k
		}
		if !ok {
			return usageErr("--events: %q is not one of %s", k, strings.Join(store.Categories, ", "))
		}
		kinds = append(kinds, k)
	}
	l := &listen.Listener{URL: af.url, Key: af.key, ForwardTo: *fwd, Since: *since, Events: kinds, Out: stdout}
	if err := l.Run(ctx); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return nil
}
