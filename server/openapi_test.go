package server

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"gopkg.in/yaml.v3"
)

// openAPIFile is the API description, relative to this package.
var openAPIFile = filepath.Join("..", "docs", "openapi.yaml")

// openAPIMethods are the path-item keys that are operations.
var openAPIMethods = map[string]string{
	"get": http.MethodGet, "put": http.MethodPut, "post": http.MethodPost, "delete": http.MethodDelete,
	"options": http.MethodOptions, "head": http.MethodHead, "patch": http.MethodPatch, "trace": http.MethodTrace,
}

// operationalRoutes are served outside /api/v1 and must be documented too.
var operationalRoutes = []string{"GET /healthz", "GET /readyz", "GET /metrics"}

type openAPIParam struct {
	Ref      string `yaml:"$ref"`
	Name     string `yaml:"name"`
	In       string `yaml:"in"`
	Required bool   `yaml:"required"`
}

type openAPIOperation struct {
	Summary     string                    `yaml:"summary"`
	OperationID string                    `yaml:"operationId"`
	Parameters  []openAPIParam            `yaml:"parameters"`
	Responses   map[string]map[string]any `yaml:"responses"`
	// Security is nil when the operation inherits the document's default.
	Security []map[string][]string `yaml:"security"`
}

// openAPISpec is what the tests read of docs/openapi.yaml: the whole tree
// (for $ref resolution) and the operations keyed by "METHOD /path".
type openAPISpec struct {
	tree       map[string]any
	operations map[string]openAPIOperation
	// pathParams are the parameters declared on each path item.
	pathParams map[string][]openAPIParam
}

func loadOpenAPI(t *testing.T) openAPISpec {
	t.Helper()
	raw, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatalf("read the API description: %v", err)
	}
	var doc struct {
		OpenAPI string `yaml:"openapi"`
		Info    struct {
			Title   string `yaml:"title"`
			Version string `yaml:"version"`
		} `yaml:"info"`
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s is not valid YAML: %v", openAPIFile, err)
	}
	if !regexp.MustCompile(`^3\.(0|1)\.\d+$`).MatchString(doc.OpenAPI) {
		t.Fatalf("openapi is %q; want 3.0.x or 3.1.x", doc.OpenAPI)
	}
	if doc.Info.Title == "" || doc.Info.Version == "" {
		t.Errorf("info needs a title and a version")
	}
	if len(doc.Paths) == 0 {
		t.Fatalf("the document has no paths")
	}
	spec := openAPISpec{operations: map[string]openAPIOperation{}, pathParams: map[string][]openAPIParam{}}
	if err := yaml.Unmarshal(raw, &spec.tree); err != nil {
		t.Fatalf("%s: %v", openAPIFile, err)
	}
	for path, item := range doc.Paths {
		for key, node := range item {
			if key == "parameters" {
				var ps []openAPIParam
				if err := node.Decode(&ps); err != nil {
					t.Errorf("%s parameters: %v", path, err)
				}
				spec.pathParams[path] = ps
				continue
			}
			method, ok := openAPIMethods[key]
			if !ok {
				continue // summary, description, servers
			}
			var op openAPIOperation
			if err := node.Decode(&op); err != nil {
				t.Errorf("%s %s: %v", key, path, err)
				continue
			}
			spec.operations[method+" "+path] = op
		}
	}
	return spec
}

// resolve follows a local reference ("#/components/...") in the tree.
func (s openAPISpec) resolve(ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = s.tree
	for _, part := range strings.Split(rest, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// param returns a parameter with its $ref followed.
func (s openAPISpec) param(p openAPIParam) (openAPIParam, bool) {
	if p.Ref == "" {
		return p, true
	}
	v, ok := s.resolve(p.Ref)
	if !ok {
		return p, false
	}
	m, _ := v.(map[string]any)
	name, _ := m["name"].(string)
	in, _ := m["in"].(string)
	req, _ := m["required"].(bool)
	return openAPIParam{Name: name, In: in, Required: req}, true
}

// refs collects every "$ref" value in the tree.
func refs(v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				out[s] = true
				continue
			}
			refs(e, out)
		}
	case []any:
		for _, e := range x {
			refs(e, out)
		}
	}
}

var templateParam = regexp.MustCompile(`\{([^}]+)\}`)

// TestOpenAPIDocument checks the description itself: every operation has a
// summary, a unique operationId and status-coded responses; every path
// parameter is declared; every $ref points at something.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	spec := loadOpenAPI(t)
	ids := map[string]string{}
	keys := make([]string, 0, len(spec.operations))
	for k := range spec.operations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		op := spec.operations[key]
		path := key[strings.IndexByte(key, ' ')+1:]
		if strings.TrimSpace(op.Summary) == "" {
			t.Errorf("%s has no summary", key)
		}
		if op.OperationID == "" {
			t.Errorf("%s has no operationId", key)
		} else if other, dup := ids[op.OperationID]; dup {
			t.Errorf("%s and %s share operationId %q", other, key, op.OperationID)
		} else {
			ids[op.OperationID] = key
		}
		if len(op.Responses) == 0 {
			t.Errorf("%s has no responses", key)
		}
		// The server demands X-CSRF-Token on every cookie-authenticated
		// change, so the document must say so wherever a change accepts the
		// session cookie (the default security does not include csrf).
		if method := key[:strings.IndexByte(key, ' ')]; method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions {
			if op.Security == nil {
				t.Errorf("%s changes state but inherits the default security; list session+csrf and bearer", key)
			}
			for _, req := range op.Security {
				_, session := req["session"]
				_, csrf := req["csrf"]
				if session && !csrf {
					t.Errorf("%s accepts the session cookie without the csrf header", key)
				}
			}
		}
		for code, resp := range op.Responses {
			if n, err := strconv.Atoi(code); code != "default" && (err != nil || n < 100 || n > 599) {
				t.Errorf("%s: response key %q is not a status code", key, code)
			}
			if _, isRef := resp["$ref"]; !isRef && resp["description"] == nil {
				t.Errorf("%s: response %s has no description", key, code)
			}
		}
		declared := map[string]bool{}
		for _, p := range append(append([]openAPIParam{}, spec.pathParams[path]...), op.Parameters...) {
			rp, ok := spec.param(p)
			if !ok {
				t.Errorf("%s: parameter reference %q does not resolve", key, p.Ref)
				continue
			}
			if rp.In == "path" {
				if !rp.Required {
					t.Errorf("%s: path parameter %q must be required", key, rp.Name)
				}
				declared[rp.Name] = true
			}
		}
		for _, m := range templateParam.FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter {%s} is not declared", key, m[1])
			}
			delete(declared, m[1])
		}
		for name := range declared {
			t.Errorf("%s: declares path parameter %q that is not in the path", key, name)
		}
	}
	all := map[string]bool{}
	refs(spec.tree, all)
	for ref := range all {
		if _, ok := spec.resolve(ref); !ok {
			t.Errorf("$ref %q does not resolve", ref)
		}
	}
	if _, ok := spec.resolve("#/components/schemas/Error"); !ok {
		t.Errorf("components/schemas/Error (the one error shape) is missing")
	}
	for _, scheme := range []string{"session", "bearer"} {
		if _, ok := spec.resolve("#/components/securitySchemes/" + scheme); !ok {
			t.Errorf("components/securitySchemes/%s is missing", scheme)
		}
	}
}

// openAPIPath turns an echo route path into an OpenAPI path template:
// ":id" becomes "{id}" and the trailing wildcard "*" becomes "{path}".
func openAPIPath(echoPath string) string {
	parts := strings.Split(echoPath, "/")
	for i, p := range parts {
		switch {
		case strings.HasPrefix(p, ":"):
			parts[i] = "{" + p[1:] + "}"
		case p == "*":
			parts[i] = "{path}"
		}
	}
	return strings.Join(parts, "/")
}

// TestOpenAPICoversEveryRoute fails when a registered route is missing from
// docs/openapi.yaml, or the document describes a route that does not exist,
// so the description cannot drift from the router.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	spec := loadOpenAPI(t)
	e := sqliteEnv(t)
	registered := map[string]string{} // "METHOD /openapi/path" → echo path
	for _, r := range e.srv.Echo().Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		// /api/v1/* is the JSON "no such API route" fallback, not an API.
		if !strings.HasPrefix(r.Path, "/api/v1/") || r.Path == "/api/v1/*" {
			continue
		}
		registered[r.Method+" "+openAPIPath(r.Path)] = r.Path
	}
	for _, op := range operationalRoutes {
		registered[op] = op
	}
	var missing, stale []string
	for key, echoPath := range registered {
		if _, ok := spec.operations[key]; !ok {
			missing = append(missing, key+"   (echo: "+echoPath+")")
		}
	}
	for key := range spec.operations {
		if _, ok := registered[key]; !ok {
			stale = append(stale, key)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("routes missing from %s (document them):\n  %s", openAPIFile, strings.Join(missing, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("%s describes routes the server does not register (remove or fix them):\n  %s", openAPIFile, strings.Join(stale, "\n  "))
	}
}
