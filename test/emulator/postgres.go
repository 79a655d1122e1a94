package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// postgresServers runs one PostgreSQL cluster per Lakebase instance, as the platform does: each has its
// own databases and roles, its own host (127.0.0.N, the instance's read_write_dns) and the port every
// cluster of this emulator shares (real Lakebase is always 5432 on different hosts).
type postgresServers struct {
	binDir string
	port   int
	// hold keeps 127.0.0.1:port bound for the emulator's lifetime, so no other emulator on this machine
	// (they all probe 127.0.0.1 for a free port) picks the same shared port.
	hold net.Listener
	// runAs is the unprivileged OS user the servers run as when the emulator runs as root (PostgreSQL
	// refuses to run as root); nil otherwise.
	runAs    *syscall.Credential
	password string // the superuser's, in every cluster of this emulator (random)

	// root holds everything the servers write: template/ and one directory per instance. It is in
	// /dev/shm where there is one (the data is thrown away anyway, and on a busy disk copying the
	// template takes ten times as long), else in the usual temporary directory.
	root string
	// template is an initdb'ed data directory, made on first use; a new instance's cluster is a copy of
	// it, which takes a fraction of what initdb takes.
	templateMu   sync.Mutex
	templateDone bool
	templateErr  error

	mu       sync.Mutex
	nextHost uint32 // 127.0.0.0/8 offset of the next cluster's address
	clusters map[string]*cluster
}

const superuser = "postgres"

func newPostgresServers(binDir string) (*postgresServers, error) {
	for _, tool := range []string{"initdb", "postgres"} {
		if info, err := os.Stat(filepath.Join(binDir, tool)); err != nil || info.IsDir() {
			return nil, fmt.Errorf("pg-bin-dir: %s has no %s (want the directory of the PostgreSQL server binaries)", binDir, tool)
		}
	}
	runAs, err := serverCredential()
	if err != nil {
		return nil, err
	}
	const prefix = "databricks-emulator-pg-"
	root, err := os.MkdirTemp("/dev/shm", prefix)
	if err != nil {
		root, err = os.MkdirTemp("", prefix)
	}
	if err != nil {
		return nil, err
	}
	s := &postgresServers{binDir: binDir, runAs: runAs, root: root, nextHost: 2, clusters: map[string]*cluster{}}
	if err := s.chown(root); err != nil {
		_ = os.RemoveAll(root)
		return nil, err
	}
	if s.hold, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		_ = os.RemoveAll(root)
		return nil, fmt.Errorf("choosing the PostgreSQL port: %w", err)
	}
	s.port = s.hold.Addr().(*net.TCPAddr).Port
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	s.password = hex.EncodeToString(secret)
	return s, nil
}

// serverCredential is what initdb and postgres run as: the `postgres` OS user when we are root (created
// if missing, as embedded-postgres does), the current user otherwise.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		out, addErr := exec.Command("useradd", "--system", "--user-group", "--no-create-home", "postgres").CombinedOutput()
		// Another emulator starting at the same time may have created it first.
		if u, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("running as root, PostgreSQL needs an unprivileged `postgres` OS user; useradd failed: %v: %s", addErr, strings.TrimSpace(string(out)))
		}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// cluster is one instance's PostgreSQL server. Operations (boot, stop, start, remove) run one at a time
// under op; the state fields are read under mu, so GET never waits for a boot.
type cluster struct {
	servers  *postgresServers
	instance string
	host     string
	dir      string // owned by runAs; holds data/ and the server log

	op sync.Mutex

	mu      sync.Mutex
	state   clusterState
	err     error     // why the last boot failed
	process *exec.Cmd // the postmaster while it runs
	exited  chan struct{}
}

type clusterState int

const (
	clusterBooting clusterState = iota
	clusterReady
	clusterStopped
	clusterFailed
)

// create starts a new cluster for an instance in the background: a copy of the template, then the
// server, then setup (the platform's side effects, as the superuser). The cluster is clusterBooting until
// setup is done.
func (s *postgresServers) create(instance string, setup func(ctx context.Context, conn *pgx.Conn) error) error {
	host, err := s.allocateHost()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(s.root, "instance-")
	if err == nil {
		err = s.chown(dir)
	}
	if err != nil {
		return err
	}
	c := &cluster{servers: s, instance: instance, host: host, dir: dir, state: clusterBooting}
	s.mu.Lock()
	s.clusters[instance] = c
	s.mu.Unlock()
	go func() {
		c.op.Lock()
		defer c.op.Unlock()
		template, err := s.template()
		if err == nil {
			err = s.copyTree(template, c.dataPath())
		}
		if err == nil {
			err = c.startServer()
		}
		if err == nil {
			err = c.withConn("postgres", setup)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.state, c.err = clusterFailed, err
			logf("EMULATOR ERROR: PostgreSQL of database instance %s: %v", instance, err)
			return
		}
		c.state = clusterReady
	}()
	return nil
}

// allocateHost hands out 127.0.0.2, 127.0.0.3, ... (never reusing one, so a connection string of a
// deleted instance cannot reach its successor), skipping addresses where the shared port is taken.
func (s *postgresServers) allocateHost() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ; s.nextHost < 1<<24-1; s.nextHost++ {
		n := s.nextHost
		host := fmt.Sprintf("127.%d.%d.%d", n>>16, n>>8&0xff, n&0xff)
		probe, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(s.port)))
		if err != nil {
			if errors.Is(err, syscall.EADDRNOTAVAIL) {
				return "", fmt.Errorf("cannot listen on %s: each database instance needs its own loopback address: %w", host, err)
			}
			continue
		}
		_ = probe.Close()
		s.nextHost++
		return host, nil
	}
	return "", errors.New("no loopback address left for another database instance")
}

func (s *postgresServers) get(instance string) *cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clusters[instance]
}

// remove stops an instance's cluster and deletes its data: nothing of a deleted instance survives.
func (s *postgresServers) remove(instance string) {
	s.mu.Lock()
	c := s.clusters[instance]
	delete(s.clusters, instance)
	s.mu.Unlock()
	if c != nil {
		c.remove()
	}
}

// shutdown removes every cluster and releases the port (emulator exit).
func (s *postgresServers) shutdown() {
	s.mu.Lock()
	all := s.clusters
	s.clusters = map[string]*cluster{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Add(1)
		go func() { defer wg.Done(); c.remove() }()
	}
	wg.Wait()
	_ = s.hold.Close()
	_ = os.RemoveAll(s.root)
}

// chown gives path to the servers' OS user.
func (s *postgresServers) chown(path string) error {
	if s.runAs == nil {
		return nil
	}
	return os.Chown(path, int(s.runAs.Uid), int(s.runAs.Gid))
}

// template makes the template data directory on first use (initdb) and returns its path.
func (s *postgresServers) template() (string, error) {
	s.templateMu.Lock()
	defer s.templateMu.Unlock()
	dir := filepath.Join(s.root, "template")
	if !s.templateDone {
		s.templateDone = true
		if s.templateErr = os.Mkdir(dir, 0o700); s.templateErr == nil {
			s.templateErr = s.chown(dir)
		}
		if s.templateErr == nil {
			s.templateErr = s.initdb(filepath.Join(dir, "data"))
		}
	}
	return filepath.Join(dir, "data"), s.templateErr
}

func (s *postgresServers) initdb(data string) error {
	pwfile := filepath.Join(filepath.Dir(data), "pwfile")
	if err := s.writeOwned(pwfile, s.password+"\n"); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	// -N: no fsync, the data is thrown away with the instance; 1 MB WAL segments instead of 16 MB make
	// the copy per instance smaller.
	out, err := s.command(filepath.Dir(data), "initdb", "-D", data, "-U", superuser, "--pwfile="+pwfile, "--auth=scram-sha-256",
		"-N", "-E", "UTF8", "--locale=C", "--no-instructions", "--wal-segsize=1").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %v: %s", err, strings.TrimSpace(string(out)))
	}
	// Password logins over TCP from loopback only (the server listens on 127.0.0.N, clients connect from 127.0.0.1).
	return s.writeOwned(filepath.Join(data, "pg_hba.conf"), "host all all 127.0.0.0/8 scram-sha-256\n")
}

func (s *postgresServers) writeOwned(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	return s.chown(path)
}

// command runs a PostgreSQL binary in dir as the server user, in its own process group (so a terminal's
// Ctrl-C reaches only the emulator, which stops the servers in order), killed if the emulator dies.
func (s *postgresServers) command(dir, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.binDir, name), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.runAs}
	dieWithParent(cmd.SysProcAttr)
	return cmd
}

// copyTree copies a data directory (regular files and directories, with their modes) for the servers' OS user.
func (s *postgresServers) copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if entry.IsDir() {
			err = os.Mkdir(target, info.Mode().Perm())
		} else {
			var data []byte
			if data, err = os.ReadFile(path); err == nil {
				err = os.WriteFile(target, data, info.Mode().Perm())
			}
		}
		if err == nil {
			err = s.chown(target)
		}
		return err
	})
}

func (c *cluster) logPath() string  { return filepath.Join(c.dir, "postgres.log") }
func (c *cluster) dataPath() string { return filepath.Join(c.dir, "data") }

// status is the cluster's state and, if its boot failed, why.
func (c *cluster) status() (clusterState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.err
}

// startServer starts the postmaster and waits until it accepts connections.
func (c *cluster) startServer() error {
	logFile, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := c.servers.command(c.dir, "postgres", "-D", c.dataPath(), "-p", strconv.Itoa(c.servers.port),
		"-c", "listen_addresses="+c.host, "-c", "unix_socket_directories=",
		// Speed over durability: nothing here outlives the emulator.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB", "-c", "max_connections=50")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	c.mu.Lock()
	c.process, c.exited = cmd, exited
	c.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.ConnectConfig(ctx, c.connConfig("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("postgres exited during start-up: %s", tail(c.logPath()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within 30s: %v", err)
		}
	}
}

// stop shuts the server down (fast shutdown: clients are disconnected), keeping the data.
func (c *cluster) stop() {
	c.op.Lock()
	defer c.op.Unlock()
	c.stopLocked(clusterStopped)
}

func (c *cluster) stopLocked(next clusterState) {
	c.mu.Lock()
	cmd, exited := c.process, c.exited
	c.process = nil
	c.state = next
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the postmaster and its backends
		<-exited
	}
}

// start starts a stopped cluster again (an instance un-stopped); clusterBooting until it accepts connections.
func (c *cluster) start() {
	c.mu.Lock()
	if c.state != clusterStopped {
		c.mu.Unlock()
		return
	}
	c.state = clusterBooting
	c.mu.Unlock()
	go func() {
		c.op.Lock()
		defer c.op.Unlock()
		if state, _ := c.status(); state != clusterBooting {
			return // stopped or removed before this got its turn
		}
		err := c.startServer()
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.state, c.err = clusterFailed, err
			logf("EMULATOR ERROR: PostgreSQL of database instance %s: %v", c.instance, err)
			return
		}
		c.state = clusterReady
	}()
}

func (c *cluster) remove() {
	c.op.Lock()
	defer c.op.Unlock()
	c.stopLocked(clusterStopped)
	if err := os.RemoveAll(c.dir); err != nil {
		logf("EMULATOR ERROR: removing the data of database instance %s: %v", c.instance, err)
	}
}

func (c *cluster) connConfig(database string) *pgx.ConnConfig {
	cfg, _ := pgx.ParseConfig("sslmode=disable")
	cfg.Host, cfg.Port, cfg.Database = c.host, uint16(c.servers.port), database
	cfg.User, cfg.Password = superuser, c.servers.password
	return cfg
}

// withConn runs f on a superuser connection to database.
func (c *cluster) withConn(database string, f func(ctx context.Context, conn *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, c.connConfig(database))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return f(ctx, conn)
}

// ---- the platform's side effects, as SQL ----

// setupInstance is what a new Lakebase instance has: the NOLOGIN role databricks_superuser, the
// creator's LOGIN role (its password is the token the credentials API hands out) as a member of it, and
// the default database databricks_postgres.
func setupInstance(creator, password string) func(ctx context.Context, conn *pgx.Conn) error {
	return func(ctx context.Context, conn *pgx.Conn) error {
		for _, stmt := range []string{
			"CREATE ROLE databricks_superuser NOLOGIN CREATEDB CREATEROLE",
			"CREATE ROLE " + ident(creator) + " LOGIN CREATEDB CREATEROLE PASSWORD " + literal(password) + " IN ROLE databricks_superuser",
			"CREATE DATABASE databricks_postgres OWNER databricks_superuser",
		} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", strings.Fields(stmt)[0]+" "+strings.Fields(stmt)[1], err)
			}
		}
		return nil
	}
}

func (c *cluster) databaseExists(name string) (bool, error) {
	var exists bool
	err := c.withConn("postgres", func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	})
	return exists, err
}

// ensureDatabase creates the database, owned by owner, unless it exists.
func (c *cluster) ensureDatabase(name, owner string) error {
	return c.withConn("postgres", func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+ident(name)+" OWNER "+ident(owner))
		if isCode(err, "42P04") { // duplicate_database
			return nil
		}
		return err
	})
}

// grantAppRole is what binding a database resource (CAN_CONNECT_AND_CREATE) to an app does: a LOGIN role
// named after the app's service principal, with CONNECT and CREATE on the database.
func (c *cluster) grantAppRole(role, database string) error {
	return c.withConn("postgres", func(ctx context.Context, conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "CREATE ROLE "+ident(role)+" LOGIN"); err != nil && !isCode(err, "42710") { // duplicate_object
			return err
		}
		_, err := conn.Exec(ctx, "GRANT CONNECT, CREATE ON DATABASE "+ident(database)+" TO "+ident(role))
		return err
	})
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// tail is the end of a log file, for an error message.
func tail(path string) string {
	data, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(data))
	if len(s) > 600 {
		s = "..." + s[len(s)-600:]
	}
	return s
}
