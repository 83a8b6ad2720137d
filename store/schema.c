/* Opening the history database: refusing files that are not ours (never
 * writing a byte to them), creating a new one with private permissions, and
 * migrating the schema step by step.  Each migration step is constant SQL
 * that ends by setting PRAGMA user_version, run in its own IMMEDIATE
 * transaction, so a crash mid-migration leaves the previous version intact and
 * two processes migrating at once serialize (the second sees the new version
 * and has nothing left to do).  Also the store's shared SQLite helpers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "store-private.h"

#define BUSY_TIMEOUT_MS 10000
/* "vsnp": marks the file as virtsnap's for file(1) and for us. */
#define APPLICATION_ID 0x76736e70

/* migrations[i] takes the schema from version i to i + 1. */
static const char *const migrations[] = {
        /* 0 -> 1: attempts and the event log. */
        "PRAGMA application_id = 1987276400;\n" /* APPLICATION_ID */
        "CREATE TABLE snapshots (\n"
        "  id INTEGER PRIMARY KEY,\n"
        "  connection TEXT NOT NULL,\n"
        "  domain_uuid TEXT NOT NULL,\n"
        "  domain_name TEXT NOT NULL,\n"
        "  policy TEXT NOT NULL,\n"
        "  snapshot TEXT,\n"
        "  type TEXT,\n"
        "  quiesce INTEGER NOT NULL DEFAULT 0 CHECK (quiesce IN (0, 1)),\n"
        "  consistency TEXT,\n"
        "  state TEXT NOT NULL CHECK (state IN ('creating','present','failed','deleting',\n"
        "                                      'deleted','vanished','skipped')),\n"
        "  scheduled INTEGER NOT NULL,\n"
        "  started INTEGER NOT NULL,\n"
        "  finished INTEGER,\n"
        "  created INTEGER,\n"
        "  deleted INTEGER,\n"
        "  delete_reason TEXT,\n"
        "  error_code INTEGER,\n"
        "  error_domain INTEGER,\n"
        "  error_message TEXT,\n"
        "  pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),\n"
        "  pin_reason TEXT,\n"
        "  undeletable INTEGER NOT NULL DEFAULT 0 CHECK (undeletable IN (0, 1))\n"
        ");\n"
        /* history --domain NAME|UUID, newest first */
        "CREATE INDEX snapshots_domain_name ON snapshots (domain_name, started);\n"
        "CREATE INDEX snapshots_domain_uuid ON snapshots (domain_uuid, started);\n"
        /* history without --domain */
        "CREATE INDEX snapshots_started ON snapshots (started);\n"
        /* last success / last attempt of a series */
        "CREATE INDEX snapshots_series ON snapshots (connection, domain_uuid, policy, started);\n"
        /* reconcile, retention input, held counts: the few live rows */
        "CREATE INDEX snapshots_live ON snapshots (connection, domain_uuid, policy, snapshot)\n"
        "  WHERE state IN ('creating','present','deleting');\n"
        "CREATE TABLE events (\n"
        "  id INTEGER PRIMARY KEY,\n"
        "  time INTEGER NOT NULL,\n"
        "  kind TEXT NOT NULL,\n"
        "  connection TEXT,\n"
        "  domain_uuid TEXT,\n"
        "  domain_name TEXT,\n"
        "  policy TEXT,\n"
        "  snapshot TEXT,\n"
        "  message TEXT,\n"
        "  snapshot_id INTEGER REFERENCES snapshots (id)\n"
        ");\n"
        "CREATE INDEX events_time ON events (time);\n"
        "CREATE INDEX events_domain_name ON events (domain_name, time);\n"
        "CREATE INDEX events_domain_uuid ON events (domain_uuid, time);\n"
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events\n"
        "  BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;\n"
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events\n"
        "  BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;\n"
        "PRAGMA user_version = 1;\n",

        /* 1 -> 2: the (connection, domain, policy) series, so `status` and
         * `monitor` enumerate series without scanning the whole history. */
        "CREATE TABLE series (\n"
        "  connection TEXT NOT NULL,\n"
        "  domain_uuid TEXT NOT NULL,\n"
        "  policy TEXT NOT NULL,\n"
        "  domain_name TEXT NOT NULL,\n"
        "  PRIMARY KEY (connection, domain_uuid, policy)\n"
        ") WITHOUT ROWID;\n"
        "INSERT INTO series (connection, domain_uuid, policy, domain_name)\n"
        "  SELECT connection, domain_uuid, policy, domain_name FROM snapshots WHERE true ORDER BY id\n"
        "  ON CONFLICT DO UPDATE SET domain_name = excluded.domain_name;\n"
        "CREATE INDEX series_domain_name ON series (domain_name);\n"
        "CREATE TRIGGER snapshots_series AFTER INSERT ON snapshots BEGIN\n"
        "  INSERT INTO series (connection, domain_uuid, policy, domain_name)\n"
        "    VALUES (NEW.connection, NEW.domain_uuid, NEW.policy, NEW.domain_name)\n"
        "    ON CONFLICT DO UPDATE SET domain_name = excluded.domain_name\n"
        "    WHERE domain_name IS NOT excluded.domain_name;\n"
        "END;\n"
        "PRAGMA user_version = 2;\n",

        /* 2 -> 3: what started an attempt (origin), a failed hook on an
         * attempt whose snapshot may well exist (hook_error), and each
         * connection's reachability, so that `status` and `monitor` can
         * tell a host that has been down for hours from one that is fine. */
        "ALTER TABLE snapshots ADD COLUMN origin TEXT;\n"
        "ALTER TABLE snapshots ADD COLUMN hook_error TEXT;\n"
        /* adopt_from hands rows over to another policy: its series. */
        "CREATE TRIGGER snapshots_series_policy AFTER UPDATE OF policy ON snapshots BEGIN\n"
        "  INSERT INTO series (connection, domain_uuid, policy, domain_name)\n"
        "    VALUES (NEW.connection, NEW.domain_uuid, NEW.policy, NEW.domain_name)\n"
        "    ON CONFLICT DO NOTHING;\n"
        "END;\n"
        "CREATE TABLE connections (\n"
        "  uri TEXT PRIMARY KEY,\n"
        "  up INTEGER NOT NULL CHECK (up IN (0, 1)),\n"
        "  since INTEGER NOT NULL,\n"
        "  failures INTEGER NOT NULL DEFAULT 0,\n"
        "  last_error TEXT,\n"
        "  last_attempt INTEGER NOT NULL\n"
        ") WITHOUT ROWID;\n"
        "PRAGMA user_version = 3;\n",

        /* 3 -> 4: ad-hoc snapshots with a lifetime (`snapshot --ttl`): the
         * moment it ends (expires; retention does not count such a
         * snapshot, it is pruned when the moment passes), who asked for it
         * and why (requested_by, note). */
        "ALTER TABLE snapshots ADD COLUMN expires INTEGER;\n"
        "ALTER TABLE snapshots ADD COLUMN requested_by TEXT;\n"
        "ALTER TABLE snapshots ADD COLUMN note TEXT;\n"
        "CREATE INDEX snapshots_expires ON snapshots (expires) WHERE expires IS NOT NULL;\n"
        "PRAGMA user_version = 4;\n",

        /* 4 -> 5: why an attempt was skipped after its intent: 'busy' (a
         * block job, backup or migration outlasted the job's timeout) or
         * 'guard' (the policy's capacity guard), so that `status` and
         * `monitor` can tell a guard skip (CRITICAL) from a routine one. */
        "ALTER TABLE snapshots ADD COLUMN skip_cause TEXT;\n"
        "PRAGMA user_version = 5;\n",

        /* 5 -> 6: a present snapshot whose pruning libvirt put off (a
         * shut-off domain's chain, say): retention wants it gone and the
         * next prune tries again; metrics count these (kind="deferred"). */
        "ALTER TABLE snapshots ADD COLUMN deferred INTEGER NOT NULL DEFAULT 0 CHECK (deferred IN (0, 1));\n"
        "PRAGMA user_version = 6;\n",
};

_Static_assert(VS_ELEMENTSOF(migrations) == VS_STORE_SCHEMA_VERSION,
               "one migration step per schema version");

int
vs__store_fail(vs_store *s, int rc, vs_err *err, const char *what)
{
        const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
        /* An I/O error says what the system said: "disk I/O error" alone
         * hides a full disk behind the WAL index (-shm) or the WAL. */
        int sys = s && s->db ? sqlite3_system_errno(s->db) : 0;
        char sys_hint[96];
        int e;

        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                e = EBUSY;
                break;
        case SQLITE_READONLY:
                e = EROFS;
                break;
        case SQLITE_FULL:
                e = ENOSPC;
                break;
        case SQLITE_NOMEM:
                e = ENOMEM;
                break;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                e = EACCES;
                break;
        case SQLITE_CANTOPEN:
                e = ENOENT;
                break;
        case SQLITE_NOTADB:
                e = EINVAL;
                break;
        case SQLITE_CORRUPT:
                e = EBADMSG;
                break;
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
        case SQLITE_TOOBIG:
                e = EINVAL;
                break;
        default:
                e = EIO;
                break;
        }
        if (((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN) && sys > 0)
                e = sys;
        if (err) {
                const char *hint = "";

                if (e == ENOSPC)
                        hint = " (no space left on the device)";
                else if (sys > 0 && e == sys) {
                        snprintf(sys_hint, sizeof(sys_hint), " (%s)", strerror(sys));
                        hint = sys_hint;
                }
                else if (e == EROFS)
                        hint = " (read-only file or file system)";
                else if (e == EBUSY)
                        hint = " (another process holds a lock)";
                else if (e == EBADMSG)
                        hint = " (the file is corrupt)";
                vs_err_set(err, e, s && s->path ? s->path : "sqlite", "%s: %s%s", what, msg, hint);
                err->code = rc;
        }
        return -e;
}

int
vs__store_prepare(vs_store *s, const char *sql, sqlite3_stmt **ret, vs_err *err)
{
        int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

        if (rc != SQLITE_OK) {
                *ret = NULL;
                return vs__store_fail(s, rc, err, "preparing a query");
        }
        return 0;
}

int
vs__store_stmt(vs_store *s, const char *sql, sqlite3_stmt **ret, vs_err *err)
{
        sqlite3_stmt *st;
        int rc;

        for (size_t i = 0; i < s->n_stmts; i++) {
                if (s->stmts[i].sql != sql)
                        continue;
                if (sqlite3_stmt_busy(s->stmts[i].st))
                        return vs_err_set(err, EBUSY, "store", "a cached statement is already in use");
                *ret = s->stmts[i].st;
                return 0;
        }
        if (s->n_stmts == s->cap_stmts) {
                size_t ncap = s->cap_stmts ? 2 * s->cap_stmts : 32;
                vs__stmt_slot *n = realloc(s->stmts, ncap * sizeof(*n));

                if (!n)
                        return vs_err_set(err, ENOMEM, "store", "out of memory");
                s->stmts = n;
                s->cap_stmts = ncap;
        }
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK) {
                sqlite3_finalize(st);
                return vs__store_fail(s, rc, err, "preparing a query");
        }
        s->stmts[s->n_stmts++] = (vs__stmt_slot){ .sql = sql, .st = st };
        *ret = st;
        return 0;
}

void
vs__store_release(sqlite3_stmt *st)
{
        if (!st)
                return;
        /* reset repeats the last step's error, already reported. */
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
}

int
vs__bind_text(sqlite3_stmt *st, int idx, const char *v)
{
        return v ? sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, idx);
}

int
vs__store_step_done(vs_store *s, sqlite3_stmt *st, vs_err *err, const char *what)
{
        int rc = sqlite3_step(st);

        if (rc == SQLITE_DONE || rc == SQLITE_ROW)
                return 0;
        return vs__store_fail(s, rc, err, what);
}

/* Run one of the transaction-control statements below (cached: BEGIN and
 * COMMIT once per loop iteration must not be compiled each time). */
static int
control(vs_store *s, const char *sql, vs_err *err, const char *what)
{
        sqlite3_stmt *st;
        int r;

        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        r = vs__store_step_done(s, st, err, what);
        vs__store_release(st);
        return r;
}

static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";
static const char sql_savepoint[] = "SAVEPOINT vs_op";
static const char sql_release[] = "RELEASE vs_op";
static const char sql_rollback_to[] = "ROLLBACK TO vs_op";

int
vs__store_join(vs_store *s, vs_err *err)
{
        int r;

        if (!s->grouped)
                return 0;
        if (!sqlite3_get_autocommit(s->db))
                return 0;
        /* SQLite ends a transaction itself after some errors (disk full, I/O,
         * out of memory): what the group held is gone, and the next flush
         * must say so. */
        if (s->group_open)
                s->group_lost = true;
        r = control(s, sql_begin, err, "starting a transaction");
        if (r < 0)
                return r;
        s->group_open = true;
        return 0;
}

int
vs__store_begin(vs_store *s, vs_err *err)
{
        int r;

        if (!s->grouped)
                return control(s, sql_begin, err, "starting a transaction");
        r = vs__store_join(s, err);
        if (r < 0)
                return r;
        r = control(s, sql_savepoint, err, "starting a transaction");
        if (r < 0)
                return r;
        s->savepoint = true;
        return 0;
}

int
vs__store_commit(vs_store *s, vs_err *err)
{
        int r;

        if (s->grouped) {
                r = control(s, sql_release, err, "committing");
                if (r < 0)
                        vs__store_rollback(s); /* back to the savepoint, and out of it */
                s->savepoint = false;
                return r;
        }
        r = control(s, sql_commit, err, "committing");
        if (r < 0)
                vs__store_rollback(s);
        return r;
}

void
vs__store_rollback(vs_store *s)
{
        if (s->grouped) {
                /* Undo this write alone; the group goes on.  A transaction
                 * SQLite already ended took the savepoint with it. */
                if (s->savepoint && !sqlite3_get_autocommit(s->db)) {
                        (void)control(s, sql_rollback_to, NULL, "rolling back");
                        (void)control(s, sql_release, NULL, "rolling back");
                }
                s->savepoint = false;
                return;
        }
        if (!sqlite3_get_autocommit(s->db))
                (void)control(s, sql_rollback, NULL, "rolling back");
}

int
vs_store_flush(vs_store *s, vs_err *err)
{
        bool lost;
        int r;

        if (!s->group_open)
                return 0;
        lost = s->group_lost || sqlite3_get_autocommit(s->db);
        s->group_open = s->group_lost = false;
        if (lost) {
                vs__store_rollback_all(s);
                return vs_err_set(err, EIO, s->path,
                                  "the history writes since the last commit were rolled back after an error");
        }
        r = control(s, sql_commit, err, "committing");
        if (r < 0)
                vs__store_rollback_all(s);
        return r;
}

void
vs__store_rollback_all(vs_store *s)
{
        s->savepoint = false;
        if (!sqlite3_get_autocommit(s->db))
                (void)control(s, sql_rollback, NULL, "rolling back");
}

int
vs_store_set_grouped(vs_store *s, bool grouped, vs_err *err)
{
        int r = 0;

        if (s->grouped && !grouped)
                r = vs_store_flush(s, err);
        s->grouped = grouped && !s->read_only;
        return r;
}

bool
vs_store_unflushed(const vs_store *s)
{
        return s->group_open;
}

int
vs__store_query_int(vs_store *s, const char *sql, int64_t *ret, vs_err *err)
{
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_prepare(s, sql, &st, err);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret = sqlite3_column_int64(st, 0);
                r = 0;
        } else if (rc == SQLITE_DONE) {
                r = vs_err_set(err, ENOENT, "sqlite", "no row");
        } else {
                r = vs__store_fail(s, rc, err, "reading the database");
        }
        sqlite3_finalize(st);
        return r;
}

int
vs__store_exec(vs_store *s, const char *sql, vs_err *err)
{
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

        return rc == SQLITE_OK ? 0 : vs__store_fail(s, rc, err, "executing");
}

int
vs_store_schema_version(const vs_store *s)
{
        return s->version;
}

/* Create the missing directories of path's parent, each 0700.  Existing
 * directories are used as they are: never chmod'ed. */
static int
make_parents(const char *path, vs_err *err)
{
        _cleanup_free_ char *dir = strdup(path);
        char *slash;

        if (!dir)
                return vs_err_set(err, ENOMEM, path, "out of memory");
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = '\0';
        for (char *p = dir + 1; ; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char saved = *p;

                *p = '\0';
                if (mkdir(dir, 0700) == 0) {
                        /* Ours, just made: make the mode exact whatever the umask. */
                        if (chmod(dir, 0700) < 0)
                                return vs_err_set(err, errno, dir, "chmod: %s", strerror(errno));
                } else if (errno != EEXIST) {
                        return vs_err_set(err, errno, dir, "cannot create directory: %s", strerror(errno));
                }
                *p = saved;
                if (saved == '\0')
                        break;
        }
        return 0;
}

/* Before SQLite touches the file: refuse anything that exists and is not an
 * SQLite database, and create a missing one (read-write) with mode 0600. */
static int
check_or_create_file(const char *path, bool read_only, vs_err *err)
{
        static const char magic[16] = "SQLite format 3";
        char head[16];
        struct stat st;
        ssize_t n;
        int fd;

        if (stat(path, &st) == 0) {
                if (!S_ISREG(st.st_mode))
                        return vs_err_set(err, EINVAL, path, "not a regular file");
                if (st.st_size == 0)
                        return 0; /* empty: SQLite treats it as a new database */
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return vs_err_set(err, errno, path, "cannot open: %s", strerror(errno));
                n = read(fd, head, sizeof(head));
                close(fd);
                if (n != (ssize_t)sizeof(head) || memcmp(head, magic, sizeof(head)) != 0)
                        return vs_err_set(err, EINVAL, path,
                                          "not an SQLite database; refusing to use or overwrite it");
                return 0;
        }
        if (errno != ENOENT)
                return vs_err_set(err, errno, path, "cannot access: %s", strerror(errno));
        if (read_only)
                return vs_err_set(err, ENOENT, path, "no history database here (has the daemon run?)");
        int r = make_parents(path, err);
        if (r < 0)
                return r;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0) {
                if (errno == EEXIST)
                        return 0; /* someone else created it meanwhile: checked by SQLite */
                return vs_err_set(err, errno, path, "cannot create: %s", strerror(errno));
        }
        if (fchmod(fd, 0600) < 0) {
                r = vs_err_set(err, errno, path, "chmod: %s", strerror(errno));
                close(fd);
                return r;
        }
        close(fd);
        return 0;
}

static int
read_version(vs_store *s, int *ret, vs_err *err)
{
        int64_t v;
        int r = vs__store_query_int(s, "PRAGMA user_version", &v, err);

        if (r < 0)
                return r;
        *ret = (int)v;
        return 0;
}

/* A database with user_version 0 is ours to initialize only when it is empty:
 * never add tables to someone else's SQLite file. */
static int
check_foreign(vs_store *s, vs_err *err)
{
        int64_t n, appid;
        int r;

        r = vs__store_query_int(s, "PRAGMA application_id", &appid, err);
        if (r < 0)
                return r;
        if (appid != 0 && appid != APPLICATION_ID)
                return vs_err_set(err, EINVAL, s->path,
                                  "an SQLite database of another application (application_id %lld)",
                                  (long long)appid);
        r = vs__store_query_int(s, "SELECT count(*) FROM sqlite_schema", &n, err);
        if (r < 0)
                return r;
        if (s->version == 0 && n > 0)
                return vs_err_set(err, EINVAL, s->path,
                                  "an SQLite database that is not virtsnap's; refusing to modify it");
        return 0;
}

static int
migrate(vs_store *s, int target, vs_err *err)
{
        int r;

        while (s->version < target) {
                int v;

                r = vs__store_begin(s, err);
                if (r < 0)
                        return r;
                /* Another process may have migrated while we waited. */
                r = read_version(s, &v, err);
                if (r < 0)
                        goto fail;
                if (v > VS_STORE_SCHEMA_VERSION) {
                        r = vs_err_set(err, EPROTO, s->path,
                                       "database was written by a newer virtsnap (schema %d > %d)", v,
                                       VS_STORE_SCHEMA_VERSION);
                        goto fail;
                }
                if (v >= target) {
                        vs__store_rollback(s);
                        s->version = v;
                        break;
                }
                r = sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL);
                if (r != SQLITE_OK) {
                        char what[64];

                        snprintf(what, sizeof(what), "migrating schema %d -> %d", v, v + 1);
                        r = vs__store_fail(s, r, err, what);
                        goto fail;
                }
                r = vs__store_commit(s, err);
                if (r < 0)
                        return r;
                s->version = v + 1;
        }
        return 0;
fail:
        vs__store_rollback(s);
        return r;
}

static int
store_open(const char *path, unsigned flags, int target, vs_store **ret, vs_err *err)
{
        bool memory = strcmp(path, ":memory:") == 0;
        bool ro = flags & VS_STORE_READ_ONLY;
        vs_store *s;
        char *mode = NULL;
        int r, rc, oflags;

        if (!memory) {
                r = check_or_create_file(path, ro, err);
                if (r < 0)
                        return r;
        }
        s = calloc(1, sizeof(*s));
        if (!s || !(s->path = strdup(path))) {
                free(s);
                return vs_err_set(err, ENOMEM, path, "out of memory");
        }
        s->read_only = ro;
        oflags = (ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOFOLLOW |
                 SQLITE_OPEN_EXRESCODE;
        if (memory)
                oflags |= SQLITE_OPEN_CREATE;
        rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
        if (rc != SQLITE_OK) {
                r = vs__store_fail(s, rc, err, "cannot open");
                goto fail;
        }
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
        /* Reading the version reads the header: SQLITE_NOTADB or
         * SQLITE_CORRUPT here means the file is damaged, and nothing has
         * been written to it. */
        r = read_version(s, &s->version, err);
        if (r == -EROFS) {
                /* WAL needs the -shm file even to read; say which file. */
                r = vs_err_set(err, EROFS, path,
                               ro ? "cannot read: WAL needs %s-shm and it cannot be created (read-only "
                                    "directory or file system; try as the daemon's user)"
                                  : "cannot write: read-only file, directory or file system (%s)",
                               path);
                goto fail;
        }
        if (r < 0)
                goto fail;
        if (s->version > VS_STORE_SCHEMA_VERSION) {
                r = vs_err_set(err, EPROTO, path,
                               "database was written by a newer virtsnap (schema %d > %d)", s->version,
                               VS_STORE_SCHEMA_VERSION);
                goto fail;
        }
        r = check_foreign(s, err);
        if (r < 0)
                goto fail;
        r = vs__store_exec(s, "PRAGMA foreign_keys = ON", err);
        if (r < 0)
                goto fail;
        /* Statement journals (a savepoint per grouped write, the series
         * trigger) in memory: they are only ever rolled back within one
         * transaction, and as temporary files they were most of the daemon's
         * writes (bench/README.md, fanout-inproc). */
        r = vs__store_exec(s, "PRAGMA temp_store = MEMORY", err);
        if (r < 0)
                goto fail;
        if (ro) {
                if (s->version == 0) {
                        r = vs_err_set(err, ENOENT, path, "the history database is empty (has the daemon run?)");
                        goto fail;
                }
                if (s->version < target) {
                        r = vs_err_set(err, EPROTO, path,
                                       "database schema %d is older than %d; run the daemon once "
                                       "to upgrade it", s->version, target);
                        goto fail;
                }
                r = vs__store_exec(s, "PRAGMA query_only = ON", err);
                if (r < 0)
                        goto fail;
        } else {
                sqlite3_stmt *st;

                /* journal_mode reports what it got: "memory" for :memory:. */
                r = vs__store_prepare(s, "PRAGMA journal_mode = WAL", &st, err);
                if (r < 0)
                        goto fail;
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW)
                        mode = strdup(vs__col_text(st, 0) ? vs__col_text(st, 0) : "");
                else
                        r = vs__store_fail(s, rc, err, "enabling WAL");
                sqlite3_finalize(st);
                if (r < 0)
                        goto fail;
                if (!mode) {
                        r = vs_err_set(err, ENOMEM, path, "out of memory");
                        goto fail;
                }
                if (!memory && strcmp(mode, "wal") != 0) {
                        r = vs_err_set(err, EIO, path, "cannot enable WAL mode (journal mode is %s)", mode);
                        goto fail;
                }
                /* The intent row must be on disk before the hypervisor acts. */
                r = vs__store_exec(s, "PRAGMA synchronous = FULL", err);
                if (r < 0)
                        goto fail;
                r = migrate(s, target, err);
                if (r < 0)
                        goto fail;
        }
        free(mode);
        *ret = s;
        return 0;
fail:
        free(mode);
        vs_store_free(s);
        return r;
}

int
vs_store_open(const char *path, unsigned flags, vs_store **ret, vs_err *err)
{
        if (!path || !*path)
                return vs_err_set(err, EINVAL, "store", "no database path");
        return store_open(path, flags, VS_STORE_SCHEMA_VERSION, ret, err);
}

int
vs__store_create_at_version(const char *path, int version, vs_err *err)
{
        vs_store *s;
        int r;

        if (version < 0 || version > VS_STORE_SCHEMA_VERSION)
                return vs_err_set(err, EINVAL, path, "no schema version %d", version);
        r = store_open(path, 0, version, &s, err);
        if (r < 0)
                return r;
        vs_store_free(s);
        return 0;
}

int
vs__store_set_max_pages(vs_store *s, unsigned pages)
{
        sqlite3_stmt *st;
        char sql[64];
        int rc;

        /* A PRAGMA cannot take a bound parameter; pages is an integer. */
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %u", pages);
        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return -EIO;
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

void
vs_store_free(vs_store *s)
{
        if (!s)
                return;
        /* What a group still holds is committed: the caller's last writes. */
        (void)vs_store_flush(s, NULL);
        for (size_t i = 0; i < s->n_stmts; i++)
                sqlite3_finalize(s->stmts[i].st);
        free(s->stmts);
        sqlite3_close_v2(s->db);
        free(s->path);
        free(s);
}
