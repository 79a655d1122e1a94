// Command emulator is a local Databricks workspace for the end-to-end tests: the Databricks CLI's
// maintained test server (github.com/databricks/cli/libs/testserver, pinned in go.mod) plus the routes
// and platform side effects our stack needs that it lacks or gets wrong (Lakebase instances each backed by
// a PostgreSQL cluster of its own, database credentials and roles, app service-principal roles and
// grants, app compute start/stop and deployments, secrets/list and secrets/delete, RAW workspace imports).
//
// It prints exactly one line on stdout when it is ready:
//
//	EMULATOR_URL=http://127.0.0.1:<port>
//
// and serves until SIGTERM or SIGINT (or, with -exit-with-parent, until the process that started it
// exits), then stops every PostgreSQL cluster and exits 0. Everything else (request problems, unhandled routes) goes to stderr. A request for
// a route the emulator does not know is answered 501 and logged as "EMULATOR UNHANDLED ROUTE ..." on
// stderr: it is a bug in the test (or a gap here), never noise.
//
// Configuration (a flag wins over its environment variable; defaults in brackets):
//
//	-workspace-token / EMULATOR_WORKSPACE_TOKEN  the only bearer token the API accepts; any other token
//	                                             (or none) gets 401 on every /api route ["emulator-workspace-token"]
//	-user-name       / EMULATOR_USER_NAME        userName of GET /api/2.0/preview/scim/v2/Me, i.e. the deployer
//	                                             identity and its Postgres role name ["deployer@example.com"]
//	-db-token        / EMULATOR_DB_TOKEN         the token POST /api/2.0/database/credentials returns, and the
//	                                             password of the deployer's Postgres role ["emulator-db-token"]
//	-pg-bin-dir      / EMULATOR_PG_BIN_DIR       the directory holding PostgreSQL's initdb and postgres, which
//	                                             every database instance's cluster is made with [required]
//	-serving-endpoint / EMULATOR_SERVING_ENDPOINTS  serving endpoints that already exist (READY) at start;
//	                                             repeat the flag, or comma-separate in the variable [none]
//	-identity        / EMULATOR_IDENTITIES       users, groups and service principals the workspace knows
//	                                             besides the deployer and the apps' service principals,
//	                                             as TYPE:name (USER, GROUP or SERVICE_PRINCIPAL), e.g.
//	                                             GROUP:notes-analysts; repeat, or comma-separate [none]
//	-app-delay       / EMULATOR_APP_DELAY        how long an app's compute takes to start or stop and a
//	                                             deployment takes to finish [300ms]
//	-exit-with-parent                            shut down when the process that started the emulator exits,
//	                                             so a test runner that crashes leaves no servers behind [false]
//
// Platform behaviour emulated on top of the test server (details at each handler):
//   - database instance create: start a PostgreSQL cluster of its own (a copy of one initdb'ed template, in
//     /dev/shm where there is one) on 127.0.0.N (its read_write_dns) at the port all instances of this
//     emulator share (GET /_emulator/info); STARTING until it accepts connections, then AVAILABLE. It has the NOLOGIN role databricks_superuser, the
//     deployer's LOGIN role (password = db token, member of databricks_superuser) and the database
//     databricks_postgres. Stopping the instance stops the cluster; deleting it removes the cluster's data.
//   - database catalog create with create_database_if_not_exists: creates the database in the instance's
//     cluster, owned by the deployer's role; without it the database must already exist.
//   - instance roles (POST/GET/DELETE /api/2.0/database/instances/{instance}/roles[/{name}]): LOGIN roles
//     for identities the workspace knows; an unknown identity is refused.
//   - app create/update with a database resource: creates the LOGIN role named after the app's
//     service_principal_client_id (a UUID derived from the app name, stable across updates, recreation
//     and emulator restarts) and grants it CONNECT, CREATE on the database.
//   - permissions: an ACL naming a principal the workspace does not know is refused.
//
// Emulator-only routes: GET /_emulator/info {url, user_name, pg_port}, GET /_emulator/unhandled (the
// unhandled requests seen so far, so a test can assert there were none), GET
// /_emulator/database-instances/{name}/postgres (the superuser login of the instance's cluster: host,
// port, user, password, database) — these three need no auth; POST /_emulator/serving-endpoints
// {"name": ...} (seeds a READY serving endpoint) and POST /_emulator/apps/{name}/fail-next-deployment
// {"message": ...} (the app's next deployment ends FAILED with that message) take the workspace token.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/databricks/cli/libs/testserver"
)

type config struct {
	workspaceToken   string
	userName         string
	dbToken          string
	pgBinDir         string
	servingEndpoints []string
	identities       []identity
	appDelay         time.Duration
	exitWithParent   bool
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
	logf("serving on %s (user %s, database instances on 127.0.0.N:%d)", emu.server.URL, cfg.userName, emu.pg.port)
	fmt.Printf("EMULATOR_URL=%s\n", emu.server.URL)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	if cfg.exitWithParent {
		go watchParent(signals)
	}
	sig := <-signals
	logf("received %s, shutting down", sig)
	if n := emu.unhandledCount(); n > 0 {
		logf("%d request(s) hit unhandled routes during this run (see EMULATOR UNHANDLED ROUTE lines above)", n)
	}
	return nil
}

// watchParent reports the death of the process that started the emulator (a test runner that crashed or
// was killed) as a signal, so its PostgreSQL clusters do not outlive it.
func watchParent(signals chan<- os.Signal) {
	parent := os.Getppid()
	for range time.Tick(time.Second) {
		if os.Getppid() != parent {
			logf("parent process %d exited", parent)
			signals <- syscall.SIGTERM
			return
		}
	}
}

// start serves the emulated workspace on a random 127.0.0.1 port until t's cleanups run; then every
// PostgreSQL cluster it started is stopped and removed.
func start(cfg config, t testserverT) (*emulator, error) {
	pg, err := newPostgresServers(cfg.pgBinDir)
	if err != nil {
		return nil, err
	}
	server := testserver.New(t)
	t.Cleanup(pg.shutdown)
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
	var delay string
	fs.StringVar(&cfg.workspaceToken, "workspace-token", env("EMULATOR_WORKSPACE_TOKEN", "emulator-workspace-token"), "the only bearer token the API accepts")
	fs.StringVar(&cfg.userName, "user-name", env("EMULATOR_USER_NAME", "deployer@example.com"), "userName of /api/2.0/preview/scim/v2/Me")
	fs.StringVar(&cfg.dbToken, "db-token", env("EMULATOR_DB_TOKEN", "emulator-db-token"), "token returned by /api/2.0/database/credentials")
	fs.StringVar(&cfg.pgBinDir, "pg-bin-dir", env("EMULATOR_PG_BIN_DIR", ""), "directory of the PostgreSQL server binaries (initdb, postgres)")
	fs.StringVar(&delay, "app-delay", env("EMULATOR_APP_DELAY", "300ms"), "how long app compute start/stop and deployments take")
	fs.BoolVar(&cfg.exitWithParent, "exit-with-parent", false, "shut down when the parent process exits")
	fs.Func("serving-endpoint", "a serving endpoint that exists at start (repeatable)", func(v string) error {
		cfg.servingEndpoints = append(cfg.servingEndpoints, v)
		return nil
	})
	var identities []string
	fs.Func("identity", "a workspace identity, TYPE:name (repeatable)", func(v string) error {
		identities = append(identities, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if len(cfg.servingEndpoints) == 0 {
		cfg.servingEndpoints = listFromEnv("EMULATOR_SERVING_ENDPOINTS")
	}
	if len(identities) == 0 {
		identities = listFromEnv("EMULATOR_IDENTITIES")
	}
	for _, v := range identities {
		id, err := parseIdentity(v)
		if err != nil {
			return cfg, err
		}
		cfg.identities = append(cfg.identities, id)
	}
	d, err := time.ParseDuration(delay)
	if err != nil || d < 0 {
		return cfg, fmt.Errorf("app-delay: %q is not a duration such as 300ms", delay)
	}
	cfg.appDelay = d
	for name, v := range map[string]string{"workspace-token": cfg.workspaceToken, "user-name": cfg.userName, "db-token": cfg.dbToken, "pg-bin-dir": cfg.pgBinDir} {
		if v == "" {
			return cfg, errors.New(name + " must not be empty")
		}
	}
	return cfg, nil
}

func listFromEnv(name string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
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
