// Command vulncheck runs govulncheck over the module against a Go
// vulnerability database built locally from the golang.org/x/vulndb module
// (the public database's own source, fetched through the Go module proxy,
// since this project's machines reach no other host), and fails on every
// vulnerability that the code calls, except the few reviewed in
// allow.txt with the reason they cannot be exploited here.
//
//	go run ./scripts/vulncheck -govulncheck .cache/bin/govulncheck
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	govulncheck := flag.String("govulncheck", "govulncheck", "the govulncheck binary")
	version := flag.String("vulndb-version", envOr("FILMROOM_VULNDB_VERSION", "v0.0.0-20261105234957-e22db6528018"),
		"version of the golang.org/x/vulndb module whose reports make the database (\"latest\" for the newest)")
	cache := flag.String("cache", ".cache/vulndb", "folder for built databases")
	allowFile := flag.String("allow", "scripts/vulncheck/allow.txt", "reviewed findings: an OSV id and the reason per line")
	flag.Parse()
	if err := run(*govulncheck, *version, *cache, *allowFile, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(govulncheck, version, cache, allowFile string, out io.Writer) error {
	allow, err := readAllow(allowFile)
	if err != nil {
		return err
	}
	db, err := database(version, cache)
	if err != nil {
		return err
	}
	cmd := exec.Command(govulncheck, "-db", "file://"+db, "-format", "json", "./...")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run govulncheck: %w", err)
	}
	called, summaries, err := calledFindings(&stdout)
	if err != nil {
		return err
	}
	var failed []string
	ids := make([]string, 0, len(called))
	for id := range called {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if reason, ok := allow[id]; ok {
			fmt.Fprintf(out, "allowed %s (%s): %s\n", id, summaries[id], reason)
			continue
		}
		fmt.Fprintf(out, "VULNERABLE %s: %s\n    %s\n", id, summaries[id], called[id])
		failed = append(failed, id)
	}
	for id := range allow {
		if _, ok := called[id]; !ok {
			fmt.Fprintf(out, "note: %s in %s is no longer reported; remove it\n", id, allowFile)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d called vulnerabilities: %s (upgrade the module or toolchain named above)", len(failed), strings.Join(failed, ", "))
	}
	fmt.Fprintf(out, "vulncheck: no called vulnerabilities outside %s (database golang.org/x/vulndb@%s)\n", allowFile, version)
	return nil
}

// database returns the folder of a govulncheck database built from the
// vulndb module's OSV reports, building it once per version.
func database(version, cache string) (string, error) {
	var mod struct{ Version, Dir, Error string }
	raw, err := exec.Command("go", "mod", "download", "-json", "golang.org/x/vulndb@"+version).Output()
	if jerr := json.Unmarshal(raw, &mod); jerr != nil || mod.Error != "" || err != nil {
		return "", fmt.Errorf("download golang.org/x/vulndb@%s: %v %s", version, err, mod.Error)
	}
	dir, err := filepath.Abs(filepath.Join(cache, mod.Version))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "index", "db.json")); err == nil {
		return dir, nil
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	build := exec.Command("go", "run", "golang.org/x/vulndb/cmd/indexdb@"+mod.Version, "-vulns", filepath.Join(mod.Dir, "data", "osv"), "-out", tmp)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build the vulnerability database: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("build the vulnerability database: %w", err)
	}
	return dir, nil
}

// calledFindings reads govulncheck's JSON stream and keeps the findings
// whose trace reaches a function: the code calls the vulnerable symbol.
func calledFindings(r io.Reader) (map[string]string, map[string]string, error) {
	called, summaries := map[string]string{}, map[string]string{}
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			OSV *struct {
				ID      string `json:"id"`
				Summary string `json:"summary"`
			} `json:"osv"`
			Finding *struct {
				OSV          string `json:"osv"`
				FixedVersion string `json:"fixed_version"`
				Trace        []struct {
					Module, Version, Package, Function string
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return called, summaries, nil
		} else if err != nil {
			return nil, nil, fmt.Errorf("read govulncheck output: %w", err)
		}
		if msg.OSV != nil {
			summaries[msg.OSV.ID] = msg.OSV.Summary
		}
		if f := msg.Finding; f != nil && len(f.Trace) > 0 && f.Trace[0].Function != "" {
			t := f.Trace[0]
			fix := f.FixedVersion
			if fix == "" {
				fix = "no fixed version"
			}
			called[f.OSV] = fmt.Sprintf("%s@%s (%s.%s), fixed in: %s", t.Module, t.Version, t.Package, t.Function, fix)
		}
	}
}

// readAllow reads "ID reason…" lines; # starts a comment.
func readAllow(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read allow list: %w", err)
	}
	defer f.Close()
	allow := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s: %s has no reason", path, id)
		}
		allow[id] = strings.TrimSpace(reason)
	}
	return allow, sc.Err()
}
