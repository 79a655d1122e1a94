package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// postgres performs the Lakebase platform's side effects (roles, grants, databases) through a
// superuser connection. A nil *postgres (no admin URL configured) does nothing.
type postgres struct {
	cfg *pgx.ConnConfig
	mu  sync.Mutex // one DDL at a time: CREATE ROLE/DATABASE races become plain sequencing
}

func newPostgres(adminURL string) (*postgres, error) {
	if adminURL == "" {
		return nil, nil
	}
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return nil, fmt.Errorf("pg-admin-url: %w", err)
	}
	p := &postgres{cfg: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.with(ctx, func(conn *pgx.Conn) error {
		var super bool
		if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
			return err
		}
		if !super {
			return errors.New("the admin connection must be a superuser")
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("pg-admin-url %s: %w", redact(adminURL), err)
	}
	return p, nil
}

func (p *postgres) enabled() bool { return p != nil }

func (p *postgres) describe() string {
	if p == nil {
		return "off (no pg-admin-url)"
	}
	return fmt.Sprintf("on (%s@%s:%d)", p.cfg.User, p.cfg.Host, p.cfg.Port)
}

func (p *postgres) with(ctx context.Context, f func(*pgx.Conn) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	conn, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return f(conn)
}

func (p *postgres) run(f func(ctx context.Context, conn *pgx.Conn) error) error {
	if p == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.with(ctx, func(conn *pgx.Conn) error { return f(ctx, conn) })
}

// ensureDeployer creates, if missing, the NOLOGIN role databricks_superuser and the instance creator's
// LOGIN role (its password is the token the credentials API hands out), a member of it, and the
// instance's default database databricks_postgres. An existing role is left exactly as it is.
func (p *postgres) ensureDeployer(user, password string) error {
	return p.run(func(ctx context.Context, conn *pgx.Conn) error {
		if err := createRoleIfMissing(ctx, conn, "databricks_superuser", "NOLOGIN CREATEDB CREATEROLE"); err != nil {
			return err
		}
		if err := createRoleIfMissing(ctx, conn, user,
			"LOGIN CREATEDB CREATEROLE PASSWORD "+literal(password)+" IN ROLE databricks_superuser"); err != nil {
			return err
		}
		return createDatabaseIfMissing(ctx, conn, "databricks_postgres", "databricks_superuser")
	})
}

func (p *postgres) databaseExists(name string) (bool, error) {
	exists := true
	err := p.run(func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	})
	return exists, err
}

// ensureDatabase creates the database, owned by owner, unless it exists.
func (p *postgres) ensureDatabase(name, owner string) error {
	return p.run(func(ctx context.Context, conn *pgx.Conn) error {
		return createDatabaseIfMissing(ctx, conn, name, owner)
	})
}

// grantAppRole is what binding a database resource (CAN_CONNECT_AND_CREATE) to an app does: a LOGIN role
// named after the app's service principal, with CONNECT and CREATE on the database.
func (p *postgres) grantAppRole(role, database string) error {
	return p.run(func(ctx context.Context, conn *pgx.Conn) error {
		if err := createRoleIfMissing(ctx, conn, role, "LOGIN"); err != nil {
			return err
		}
		_, err := conn.Exec(ctx, "GRANT CONNECT, CREATE ON DATABASE "+ident(database)+" TO "+ident(role))
		return err
	})
}

func createRoleIfMissing(ctx context.Context, conn *pgx.Conn, role, options string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err := conn.Exec(ctx, "CREATE ROLE "+ident(role)+" "+options)
	if isCode(err, "42710") { // duplicate_object: created concurrently by someone else
		return nil
	}
	if err != nil {
		return fmt.Errorf("create role %s: %w", role, err)
	}
	return nil
}

func createDatabaseIfMissing(ctx context.Context, conn *pgx.Conn, name, owner string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err := conn.Exec(ctx, "CREATE DATABASE "+ident(name)+" OWNER "+ident(owner))
	if isCode(err, "42P04") { // duplicate_database
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
