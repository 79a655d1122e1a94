// Command emulator is a local Databricks workspace for the end-to-end tests: the Databricks CLI's
// maintained test server (github.com/databricks/cli/libs/testserver, pinned in go.mod) plus the routes
// and platform side effects our stack needs that it lacks or gets wrong (Lakebase instances backed by a
// real PostgreSQL, database credentials, app service-principal roles and grants, app deployments,
// secrets/list and secrets/delete, RAW workspace imports).
//
// It prints exactly one line on stdout when it is ready:
//
//	EMULATOR_URL=http://127.0.0.1:<port>
//
// and serves until SIGTERM or SIGINT, then exits 0. Everything else (request problems, unhandled
// routes) goes to stderr. A request for a route the emulator does not know is answered 501 and logged
// as "EMULATOR UNHANDLED ROUTE ..." on stderr: it is a bug in the test (or a gap here), never noise.
//
// Configuration (a flag wins over its environment variable; defaults in brackets):
//
//	-workspace-token / EMULATOR_WORKSPACE_TOKEN  the only bearer token the API accepts; any other token
//	                                             (or none) gets 401 on every /api route ["emulator-workspace-token"]
//	-user-name       / EMULATOR_USER_NAME        userName of GET /api/2.0/preview/scim/v2/Me, i.e. the deployer
//	                                             identity and its Postgres role name ["deployer@example.com"]
//	-db-token        / EMULATOR_DB_TOKEN         the token POST /api/2.0/database/credentials returns, and the
//	                                             password of the deployer's Postgres role ["emulator-db-token"]
//	-pg-host         / EMULATOR_PG_HOST          what database instances report as read_write_dns ["127.0.0.1"]
//	-pg-port         / EMULATOR_PG_PORT          the port of that PostgreSQL (real Lakebase is always 5432);
//	                                             reported by GET /_emulator/info [5432]
//	-pg-admin-url    / EMULATOR_PG_ADMIN_URL     superuser connection URL, e.g.
//	                                             postgres://postgres:pw@127.0.0.1:5432/postgres; empty disables
//	                                             every Postgres side effect [""]
//	-serving-endpoint / EMULATOR_SERVING_ENDPOINTS  serving endpoints that already exist (READY) at start;
//	                                             repeat the flag, or comma-separate in the variable [none]
//
// Platform behaviour emulated on top of the test server (details at each handler):
//   - database instance create: creates (if missing) the NOLOGIN role databricks_superuser and the
//     deployer's LOGIN role (password = db token, member of databricks_superuser) and the default
//     database databricks_postgres.
//   - database catalog create with create_database_if_not_exists: creates the database, owned by the
//     deployer's role; without it the database must already exist.
//   - app create/update with a database resource: creates the LOGIN role named after the app's
//     service_principal_client_id (a UUID derived from the app name, stable across updates, recreation
//     and emulator restarts) and grants it CONNECT, CREATE on the database.
//
// Emulator-only routes (no auth): GET /_emulator/info, GET /_emulator/unhandled (the unhandled requests
// seen so far, so a test can assert there were none), POST /_emulator/serving-endpoints {"name": ...}
// (authenticated: seeds a READY serving endpoint in the caller's workspace).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/databricks/cli/libs/testserver"
)

type config struct {
	workspaceToken   string
	userName         string
	dbToken          string
	pgHost           string
	pgPort           int
	pgAdminURL       string
	servingEndpoints []string
}

func main() {
	if err := run(); err != nil {
		// One line, even for drivers that explain themselves over several.
		fmt.Fprintf(os.Stderr, "emulator: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		os.Exit(1)
	}
}

func run() error {
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		return err
	}
	t := newProcessT()
	defer t.runCleanups()
	emu, err := start(cfg, t)
	if err != nil {
		return err
	}
	logf("serving on %s (user %s, postgres side effects %s)", emu.server.URL, cfg.userName, emu.pg.describe())
	fmt.Printf("EMULATOR_URL=%s\n", emu.server.URL)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	sig := <-signals
	logf("received %s, shutting down", sig)
	if n := emu.unhandledCount(); n > 0 {
		logf("%d request(s) hit unhandled routes during this run (see EMULATOR UNHANDLED ROUTE lines above)", n)
	}
	return nil
}

// start serves the emulated workspace on a random 127.0.0.1 port until t's cleanups run.
func start(cfg config, t testserverT) (*emulator, error) {
	pg, err := newPostgres(cfg.pgAdminURL)
	if err != nil {
		return nil, err
	}
	server := testserver.New(t)
	emu := newEmulator(cfg, pg, server)
	// gorilla/mux matches routes in registration order, so our handlers go in before the defaults and
	// win wherever both define a route.
	emu.register()
	testserver.AddDefaultHandlers(server)
	server.Router.NotFoundHandler = http.HandlerFunc(emu.unhandled)
	server.Router.MethodNotAllowedHandler = http.HandlerFunc(emu.unhandled)
	// Swapped before the first request, so the (already serving) http.Server never sees the old handler.
	server.Config.Handler = emu.authenticate(server.Router)
	if err := emu.seed(); err != nil {
		return nil, err
	}
	return emu, nil
}

// testserverT is the test server's TestingT (declared in an internal package of the CLI, so it can
// only be satisfied structurally): *testing.T in tests, processT in the binary.
type testserverT interface {
	Log(args ...any)
	Logf(format string, args ...any)
	Error(args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Skipf(format string, args ...any)
	FailNow()
	Cleanup(func())
	Context() context.Context
	Setenv(key, value string)
	TempDir() string
	Helper()
}

func parseConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	env := func(name, fallback string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return fallback
	}
	var cfg config
	var port string
	fs.StringVar(&cfg.workspaceToken, "workspace-token", env("EMULATOR_WORKSPACE_TOKEN", "emulator-workspace-token"), "the only bearer token the API accepts")
	fs.StringVar(&cfg.userName, "user-name", env("EMULATOR_USER_NAME", "deployer@example.com"), "userName of /api/2.0/preview/scim/v2/Me")
	fs.StringVar(&cfg.dbToken, "db-token", env("EMULATOR_DB_TOKEN", "emulator-db-token"), "token returned by /api/2.0/database/credentials")
	fs.StringVar(&cfg.pgHost, "pg-host", env("EMULATOR_PG_HOST", "127.0.0.1"), "read_write_dns of database instances")
	fs.StringVar(&port, "pg-port", env("EMULATOR_PG_PORT", "5432"), "port of the PostgreSQL behind the instances")
	fs.StringVar(&cfg.pgAdminURL, "pg-admin-url", env("EMULATOR_PG_ADMIN_URL", ""), "superuser connection URL; empty disables Postgres side effects")
	fs.Func("serving-endpoint", "a serving endpoint that exists at start (repeatable)", func(v string) error {
		cfg.servingEndpoints = append(cfg.servingEndpoints, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if len(cfg.servingEndpoints) == 0 {
		for _, name := range strings.Split(os.Getenv("EMULATOR_SERVING_ENDPOINTS"), ",") {
			if name = strings.TrimSpace(name); name != "" {
				cfg.servingEndpoints = append(cfg.servingEndpoints, name)
			}
		}
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return cfg, fmt.Errorf("pg-port: %q is not a TCP port", port)
	}
	cfg.pgPort = p
	for name, v := range map[string]string{"workspace-token": cfg.workspaceToken, "user-name": cfg.userName, "db-token": cfg.dbToken, "pg-host": cfg.pgHost} {
		if v == "" {
			return cfg, errors.New(name + " must not be empty")
		}
	}
	return cfg, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "emulator: "+format+"\n", args...)
}

// processT is the testserverT of the emulator binary. Errors are reported loudly on stderr; they
// do not stop the process, since one bad request must not take the other tests' workspace down.
type processT struct {
	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.Mutex
	cleanups []func()
}

func newProcessT() *processT {
	ctx, cancel := context.WithCancel(context.Background())
	return &processT{ctx: ctx, cancel: cancel}
}

func (t *processT) runCleanups() {
	t.cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

func (t *processT) Log(args ...any)                 { logf("%s", fmt.Sprint(args...)) }
func (t *processT) Logf(format string, args ...any) { logf(format, args...) }
func (t *processT) Error(args ...any)               { logf("EMULATOR ERROR: %s", fmt.Sprint(args...)) }
func (t *processT) Errorf(format string, args ...any) {
	logf("EMULATOR ERROR: %s", fmt.Sprintf(format, args...))
}

// Fatal, Skip and FailNow end the current request (net/http recovers the panic and drops the
// connection), never the emulator.
func (t *processT) Fatal(args ...any) { t.Error(args...); panic("emulator: fatal test-server error") }
func (t *processT) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	panic("emulator: fatal test-server error")
}
func (t *processT) Skip(args ...any)                 { t.Fatal(append([]any{"skip: "}, args...)...) }
func (t *processT) Skipf(format string, args ...any) { t.Fatalf("skip: "+format, args...) }
func (t *processT) FailNow()                         { t.Fatal("FailNow") }
func (t *processT) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}
func (t *processT) Context() context.Context { return t.ctx }
func (t *processT) Setenv(key, value string) { _ = os.Setenv(key, value) }
func (t *processT) Helper()                  {}
func (t *processT) TempDir() string {
	dir, err := os.MkdirTemp("", "databricks-emulator-")
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
