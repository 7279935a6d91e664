/* creds_test.c: the credential chain against real HTTP servers on 127.0.0.1.
 *
 *   creds_test CASE     runs one case of CASES (CMake registers each CASE row)
 *   creds_test --list   the case names
 *
 * A case runs in a child process whose stdout and stderr (its servers'
 * too) are captured: the parent echoes them and fails the case when any
 * secret of the tests shows in them. Every secret below holds SECRET_MARK
 * at both ends, so the scan also catches a print of its start or its end.
 *
 * Endpoints are tests/creds/server.py processes, one per endpoint, scripted
 * per case; they log every request, and the cases assert methods, paths and
 * headers from that log. The clock and the backoff sleeps are fake: the
 * cases set the time, and see the sleeps requested. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "creds.h"
#include "http.h"
#include "json.h"
#include "mem.h"

#define SECRET_MARK "s3cr3t"
#define S(x) SECRET_MARK x SECRET_MARK
#define ENV_SECRET S("-envKey/wJalrXUtnFEMI/K7MDENG-")
#define ENV_TOKEN S("-envToken+FwoGZXIvYXdzEJr-")
#define ECS_SECRET_A S("-ecsKeyA/9drTJvcXLB89EXAMPLE-")
#define ECS_TOKEN_A S("-ecsTokenA+IQoJb3JpZ2luX2VjEA-")
#define ECS_SECRET_B S("-ecsKeyB/ZmluZ2VycHJpbnQ-")
#define ECS_TOKEN_B S("-ecsTokenB+YW5vdGhlcnRva2Vu-")
#define AUTH_TOKEN_ENV S("-authTokenFromEnv-")
#define AUTH_TOKEN_FILE_A S("-authTokenFileA-")
#define AUTH_TOKEN_FILE_B S("-authTokenFileB-")
#define IMDS_SESSION S("-imdsSessionToken==-")
#define IMDS_SECRET S("-imdsKey/bWV0YWRhdGE-")
#define IMDS_TOKEN S("-imdsToken+aW5zdGFuY2U-")

/* 2026-11-29T06:52:00Z and six hours later, in Unix ms. */
#define EXP_A_TEXT "2026-11-29T06:52:00Z"
#define EXP_A 1795935120000LL
#define EXP_B_TEXT "2026-11-29T12:52:00Z"
#define EXP_B 1795956720000LL
#define MIN_MS 60000LL

#define ECS_PATH "/v2/credentials/3f2a9c1e-task"
#define ROLE_LIST "/latest/meta-data/iam/security-credentials/"

/* Credential documents, with ' for " (see quotes). */
#define ECS_DOC(akid, secret, token, exp)                                                                        \
    "{'AccessKeyId':'" akid "','SecretAccessKey':'" secret "','Token':'" token "','Expiration':'" exp            \
    "','RoleArn':'arn:aws:iam::123456789012:role/tweetmatch-task'}"
#define CREDS_A ECS_DOC("ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A_TEXT)
#define CREDS_B ECS_DOC("ASIAECSBBBBBBBBBBBBB", ECS_SECRET_B, ECS_TOKEN_B, EXP_B_TEXT)

/* ---- checks ---- */

static int fails;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fails++;
}

static void expect_str(const char *what, const char *want, const char *got)
{
    if (got == NULL || strcmp(want, got) != 0)
        fail("%s: expected '%s', got '%s'", what, want, got ? got : "(none)");
}

/* For secrets: says that they differ, never what they are. */
static void expect_secret(const char *what, const char *want, const char *got)
{
    if (want == NULL ? got != NULL : got == NULL || strcmp(want, got) != 0)
        fail("%s is not the expected value", what);
}

static void expect_int(const char *what, long long want, long long got)
{
    if (want != got)
        fail("%s: expected %lld, got %lld", what, want, got);
}

static void expect_true(const char *what, bool ok)
{
    if (!ok)
        fail("%s", what);
}

/* msg holds fragment; msg is printed, so every message is seen (and
 * scanned for secrets) in the case's output. */
static void expect_msg(const char *what, const char *msg, const char *fragment)
{
    printf("%s: %s\n", what, msg ? msg : "(no message)");
    if (msg == NULL || strstr(msg, fragment) == NULL)
        fail("%s: the message lacks '%s'", what, fragment);
}

/* ---- fake clock, sleeps and warnings ---- */

static int64_t fake_now = EXP_A - 60 * MIN_MS;
static int64_t slept[32];
static int n_slept;
static int n_warnings;
static char last_warning[2048];

static int64_t fake_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

static void fake_sleep(void *ud, int64_t ms)
{
    (void)ud;
    if (n_slept < 32)
        slept[n_slept++] = ms;
    fake_now += ms;
}

static void on_warning(void *ud, const char *msg)
{
    (void)ud;
    printf("warning: %s\n", msg);
    snprintf(last_warning, sizeof last_warning, "%s", msg);
    n_warnings++;
}

static void expect_sleeps(const char *what, int n, const int64_t *want)
{
    if (n_slept != n) {
        fail("%s: %d backoff sleeps, expected %d", what, n_slept, n);
        return;
    }
    for (int i = 0; i < n; i++)
        if (slept[i] != want[i])
            fail("%s: sleep %d was %lld ms, expected %lld", what, i + 1, (long long)slept[i], (long long)want[i]);
}

/* ---- files ---- */

static char tmpdir[64];
static char *made[32];
static int n_made;

static const char *tmp_path(const char *name)
{
    char *p = xasprintf("%s/%s", tmpdir, name);
    if (n_made < 32)
        made[n_made++] = p;
    return p;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
        fail("cannot write %s: %s", path, strerror(errno));
        exit(1);
    }
}

/* ---- servers ---- */

typedef struct server {
    pid_t pid;
    int stdin_fd;
    int port;
    char url[64];
    const char *log;
} server;

/* Plans and bodies are written with ' for " to keep them readable in C. */
static char *quotes(const char *text)
{
    char *p = xstrdup(text);
    for (char *q = p; *q; q++)
        if (*q == '\'')
            *q = '"';
    return p;
}

static void cloexec(int fd)
{
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Starts a server on the plan (JSON text as is). */
static void server_start_raw(server *s, const char *plan)
{
    static int n;
    char name[32];
    snprintf(name, sizeof name, "plan%d.json", n);
    const char *plan_path = tmp_path(name);
    snprintf(name, sizeof name, "log%d.jsonl", n++);
    s->log = tmp_path(name);
    write_file(plan_path, plan);
    write_file(s->log, "");
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) {
        fail("pipe: %s", strerror(errno));
        exit(1);
    }
    cloexec(in[1]);
    cloexec(out[0]);
    fflush(stdout);
    fflush(stderr);
    s->pid = fork();
    if (s->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(out[1]);
        execl(TM_PYTHON, TM_PYTHON, TM_CREDS_SERVER, plan_path, s->log, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", TM_PYTHON, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    s->stdin_fd = in[1];
    char line[32] = "";
    size_t got = 0;
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    while (got < sizeof line - 1 && !memchr(line, '\n', got) && poll(&pfd, 1, 5000) == 1) {
        ssize_t r = read(out[0], line + got, sizeof line - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        line[got] = '\0';
    }
    close(out[0]);
    s->port = atoi(line);
    if (s->port <= 0) {
        fail("the test server did not start");
        exit(1);
    }
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
}

static void server_start(server *s, const char *plan)
{
    char *p = quotes(plan);
    server_start_raw(s, p);
    free(p);
}

static void server_stop(server *s)
{
    if (s->pid <= 0)
        return;
    close(s->stdin_fd);
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

/* A port nothing listens on (bound, then released). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        fail("cannot find a free port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* The requests a server received, in order. */
typedef struct reqlog {
    arena *a;
    const json_value *req[64];
    int n;
} reqlog;

static void read_log(const server *s, reqlog *log)
{
    log->a = arena_new(4096);
    log->n = 0;
    FILE *f = fopen(s->log, "r");
    if (f == NULL) {
        fail("cannot read %s", s->log);
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0 && log->n < 64) {
        char *err = NULL;
        const json_value *v = json_parse(line, (size_t)len, log->a, 0, &err);
        if (v == NULL) {
            fail("bad log line in %s: %s", s->log, err);
            free(err);
            continue;
        }
        log->req[log->n++] = v;
    }
    free(line);
    fclose(f);
}

static void log_free(reqlog *log)
{
    arena_free(log->a);
}

static int request_count(const server *s)
{
    reqlog log;
    read_log(s, &log);
    int n = log.n;
    log_free(&log);
    return n;
}

static const char *req_str(const json_value *r, const char *name)
{
    return json_get_str(r, name, NULL);
}

static const char *req_header(const json_value *r, const char *name)
{
    return json_get_str(json_get(r, "headers"), name, NULL);
}

static void expect_request(const reqlog *log, int i, const char *method, const char *path)
{
    if (i >= log->n) {
        fail("request %d (%s %s) never came", i + 1, method, path);
        return;
    }
    char what[64];
    snprintf(what, sizeof what, "request %d method", i + 1);
    expect_str(what, method, req_str(log->req[i], "method"));
    snprintf(what, sizeof what, "request %d path", i + 1);
    expect_str(what, path, req_str(log->req[i], "path"));
}

/* ---- the provider ---- */

typedef struct tcase {
    const char *name;
    void (*fn)(const struct tcase *);
    const char *arg;  /* a URL, a response body, an environment value */
    const char *want; /* a fragment of the expected message */
    int status;
    long long ms;
} tcase;

static creds_provider *provider_timeout(long timeout_ms, char **err)
{
    creds_config cfg;
    creds_config_from_env(&cfg);
    cfg.clock_ms = fake_clock;
    cfg.sleep_ms = fake_sleep;
    cfg.warn = on_warning;
    if (timeout_ms)
        cfg.timeout_ms = timeout_ms;
    *err = NULL;
    return creds_new(&cfg, err);
}

static creds_provider *provider(void)
{
    char *err;
    creds_provider *p = provider_timeout(0, &err);
    if (p == NULL) {
        fail("creds_new: %s", err);
        free(err);
        exit(1);
    }
    return p;
}

/* creds_new fails; the message holds want. */
static void expect_config_error(const char *want)
{
    char *err;
    creds_provider *p = provider_timeout(0, &err);
    if (p) {
        fail("creds_new accepted the configuration");
        creds_free(p);
        return;
    }
    expect_msg("creds_new", err, want);
    free(err);
}

static void expect_creds(const creds *c, const char *akid, const char *secret, const char *token, long long exp)
{
    expect_str("access key id", akid, c->access_key_id);
    expect_secret("secret access key", secret, c->secret_access_key);
    expect_secret("session token", token, c->session_token);
    expect_int("expiration ms", exp, c->expiration_ms);
}

/* creds_get succeeds with these credentials. */
static void get_ok(creds_provider *p, const char *akid, const char *secret, const char *token, long long exp)
{
    creds c;
    creds_init(&c);
    char *err = NULL;
    if (!creds_get(p, &c, &err)) {
        fail("creds_get: %s", err);
        free(err);
        return;
    }
    expect_creds(&c, akid, secret, token, exp);
    creds_clean_up(&c);
}

/* creds_get fails with a message holding want, and leaves no credentials. */
static void get_fails(creds_provider *p, const char *want)
{
    creds c;
    creds_init(&c);
    char *err = NULL;
    if (creds_get(p, &c, &err)) {
        fail("creds_get succeeded; expected an error with '%s'", want);
        creds_clean_up(&c);
        return;
    }
    expect_msg("creds_get", err, want);
    expect_true("no credentials left after a failure", c.access_key_id == NULL && c.secret_access_key == NULL);
    free(err);
}

/* The ECS endpoint of the task role, at a test server: responses are the
 * plan's list for the task's path. */
static void ecs_setup_raw(server *s, const char *responses)
{
    char *plan = xasprintf("{\"" ECS_PATH "\":[%s]}", responses);
    server_start_raw(s, plan);
    free(plan);
    setenv("TM_TEST_ECS_ENDPOINT", s->url, 1);
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ECS_PATH, 1);
}

static void ecs_setup(server *s, const char *responses)
{
    char *r = quotes(responses);
    ecs_setup_raw(s, r);
    free(r);
}

#define OK_A "{'json':" CREDS_A "}"
#define OK_B "{'json':" CREDS_B "}"

/* ---- cases: environment ---- */

static void t_env_static(const tcase *c)
{
    (void)c;
    setenv("AWS_ACCESS_KEY_ID", "AKIAENVSTATIC0000000", 1);
    setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
    creds_provider *p = provider();
    expect_str("source", "environment", creds_source_name(p));
    get_ok(p, "AKIAENVSTATIC0000000", ENV_SECRET, NULL, 0);
    fake_now += 365LL * 24 * 60 * MIN_MS;
    get_ok(p, "AKIAENVSTATIC0000000", ENV_SECRET, NULL, 0);
    creds_free(p);
}

static void t_env_session_token(const tcase *c)
{
    (void)c;
    setenv("AWS_ACCESS_KEY_ID", "ASIAENVSESSION000000", 1);
    setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
    setenv("AWS_SESSION_TOKEN", ENV_TOKEN, 1);
    creds_provider *p = provider();
    get_ok(p, "ASIAENVSESSION000000", ENV_SECRET, ENV_TOKEN, 0);
    creds_free(p);
}

static void t_env_key_without_secret(const tcase *c)
{
    (void)c;
    setenv("AWS_ACCESS_KEY_ID", "AKIAENVHALF000000000", 1);
    setenv("AWS_SESSION_TOKEN", ENV_TOKEN, 1);
    expect_config_error("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
}

static void t_env_secret_without_key(const tcase *c)
{
    (void)c;
    setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
    expect_config_error("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
}

static void t_env_secret_with_newline(const tcase *c)
{
    (void)c;
    setenv("AWS_ACCESS_KEY_ID", "AKIAENVNEWLINE000000", 1);
    setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET "\n", 1);
    expect_config_error("AWS_SECRET_ACCESS_KEY holds a control character");
}

static void t_env_force_refresh_refused(const tcase *c)
{
    (void)c;
    setenv("AWS_ACCESS_KEY_ID", "AKIAENVSTATIC0000000", 1);
    setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
    creds_provider *p = provider();
    char *err = NULL;
    expect_true("creds_force_refresh fails for environment credentials", !creds_force_refresh(p, &err));
    expect_msg("creds_force_refresh", err, "cannot be refreshed");
    free(err);
    creds_free(p);
}

/* ---- cases: ECS ---- */

static void t_ecs_relative_uri(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN_ENV, 1);
    creds_provider *p = provider();
    expect_str("source", "ecs", creds_source_name(p));
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    fake_now += 30 * MIN_MS;
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    reqlog log;
    read_log(&s, &log);
    expect_int("requests (the second get uses the cache)", 1, log.n);
    expect_request(&log, 0, "GET", ECS_PATH);
    if (log.n > 0)
        expect_secret("Authorization header", AUTH_TOKEN_ENV, req_header(log.req[0], "authorization"));
    log_free(&log);
    creds_free(p);
    server_stop(&s);
}

static void t_ecs_token_file_reread(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A "," OK_B);
    const char *file = tmp_path("token");
    write_file(file, AUTH_TOKEN_FILE_A "\n");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN_ENV, 1); /* the file wins */
    creds_provider *p = provider();
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    write_file(file, AUTH_TOKEN_FILE_B);
    fake_now += 20000;
    char *err = NULL;
    if (!creds_force_refresh(p, &err))
        fail("creds_force_refresh: %s", err);
    free(err);
    get_ok(p, "ASIAECSBBBBBBBBBBBBB", ECS_SECRET_B, ECS_TOKEN_B, EXP_B);
    reqlog log;
    read_log(&s, &log);
    expect_int("requests", 2, log.n);
    if (log.n == 2) {
        expect_secret("Authorization header of the first fetch (file A, newline dropped)", AUTH_TOKEN_FILE_A,
                      req_header(log.req[0], "authorization"));
        expect_secret("Authorization header of the second fetch (file B)", AUTH_TOKEN_FILE_B,
                      req_header(log.req[1], "authorization"));
    }
    log_free(&log);
    creds_free(p);
    server_stop(&s);
}

static void t_ecs_token_file_missing(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tmp_path("no-such-token"), 1);
    creds_provider *p = provider();
    get_fails(p, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    expect_int("requests", 0, request_count(&s));
    creds_free(p);
    server_stop(&s);
}

static void t_ecs_token_crlf_env(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN_ENV "\r\nX-Injected: " AUTH_TOKEN_ENV, 1);
    expect_config_error("AWS_CONTAINER_AUTHORIZATION_TOKEN holds a CR, LF or other control character");
    expect_int("requests", 0, request_count(&s));
    server_stop(&s);
}

static void t_ecs_token_crlf_file(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A);
    const char *file = tmp_path("token");
    write_file(file, AUTH_TOKEN_FILE_A "\nX-Injected: " AUTH_TOKEN_FILE_B "\n");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file, 1);
    creds_provider *p = provider();
    get_fails(p, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    get_fails(p, "holds a CR, LF or other control character");
    expect_int("requests", 0, request_count(&s));
    creds_free(p);
    server_stop(&s);
}

static void t_ecs_full_uri_loopback(const tcase *c)
{
    (void)c;
    server s;
    server_start(&s, "{'/creds':[" OK_A "]}");
    char *uri = xasprintf("%s/creds", s.url);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN_ENV, 1);
    creds_provider *p = provider();
    expect_str("source", "ecs", creds_source_name(p));
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    reqlog log;
    read_log(&s, &log);
    expect_int("requests", 1, log.n);
    expect_request(&log, 0, "GET", "/creds");
    if (log.n > 0)
        expect_secret("Authorization header", AUTH_TOKEN_ENV, req_header(log.req[0], "authorization"));
    log_free(&log);
    free(uri);
    creds_free(p);
    server_stop(&s);
}

/* creds_new accepts the full URI c->arg (no request is made). */
static void t_full_uri_allowed(const tcase *c)
{
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", c->arg, 1);
    char *err;
    creds_provider *p = provider_timeout(0, &err);
    if (p == NULL) {
        fail("creds_new refused %s: %s", c->arg, err);
        free(err);
        return;
    }
    expect_str("source", "ecs", creds_source_name(p));
    creds_free(p);
}

static void t_full_uri_refused(const tcase *c)
{
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", c->arg, 1);
    expect_config_error(c->want);
}

static void t_relative_uri_refused(const tcase *c)
{
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", c->arg, 1);
    expect_config_error(c->want);
}

/* The endpoint answers c->status with body c->arg (' for "): creds_get
 * fails with c->want after one request (no retry). */
static void t_ecs_bad_response(const tcase *c)
{
    server s;
    char *body = quotes(c->arg);
    buf r;
    buf_init(&r, 1 << 16);
    buf_printf(&r, "{\"status\":%d,\"body\":", c->status ? c->status : 200);
    json_put_string(&r, body, strlen(body));
    buf_putc(&r, '}');
    ecs_setup_raw(&s, r.data);
    buf_clean_up(&r);
    free(body);
    creds_provider *p = provider();
    get_fails(p, "no AWS credentials: the ECS credentials endpoint http://127.0.0.1:");
    get_fails(p, c->want);
    expect_int("requests (one per creds_get: no retry)", 2, request_count(&s));
    creds_free(p);
    server_stop(&s);
}

/* c->status twice, then good credentials: retried after 200 and 400 ms. */
static void t_ecs_retried(const tcase *c)
{
    server s;
    char *plan = xasprintf("{'status':%d,'body':'busy'},{'status':%d,'body':'busy'}," OK_A, c->status, c->status);
    ecs_setup(&s, plan);
    free(plan);
    creds_provider *p = provider();
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    expect_int("requests", 3, request_count(&s));
    expect_sleeps("backoff", 2, (const int64_t[]){200, 400});
    creds_free(p);
    server_stop(&s);
}

static void t_ecs_5xx_exhausted(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, "{'status':500,'body':'" ECS_SECRET_A "'}");
    creds_provider *p = provider();
    get_fails(p, "HTTP 500 (3 attempts)");
    expect_int("requests", 3, request_count(&s));
    expect_sleeps("backoff", 2, (const int64_t[]){200, 400});
    creds_free(p);
    server_stop(&s);
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void t_ecs_timeout_retried(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, "{'delay_ms':3000,'json':" CREDS_B "}," OK_A);
    char *err;
    creds_provider *p = provider_timeout(300, &err);
    if (p == NULL) {
        fail("creds_new: %s", err);
        free(err);
        return;
    }
    int64_t t0 = real_ms();
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    int64_t took = real_ms() - t0;
    printf("creds_get took %lld ms\n", (long long)took);
    expect_true("the slow answer was abandoned after the 300 ms timeout", took >= 250 && took < 2000);
    expect_int("requests", 2, request_count(&s));
    expect_sleeps("backoff", 1, (const int64_t[]){200});
    creds_free(p);
    server_stop(&s);
}

static void t_ecs_timeout_exhausted(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, "{'delay_ms':3000,'json':" CREDS_A "}");
    char *err;
    creds_provider *p = provider_timeout(200, &err);
    if (p == NULL) {
        fail("creds_new: %s", err);
        free(err);
        return;
    }
    get_fails(p, "timed out");
    expect_int("requests", 3, request_count(&s));
    creds_free(p);
    server_stop(&s);
}

/* The Expiration c->arg reads as c->ms. */
static void t_ecs_expiration(const tcase *c)
{
    server s;
    char *plan = xasprintf("{'json':" ECS_DOC("ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, "%s") "}", c->arg);
    ecs_setup(&s, plan);
    free(plan);
    creds_provider *p = provider();
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, c->ms);
    creds_free(p);
    server_stop(&s);
}

/* ---- cases: IMDS ---- */

#define IMDS_DOC(code)                                                                                           \
    "{'Code':'" code "','LastUpdated':'2026-11-29T00:52:00Z','Type':'AWS-HMAC','AccessKeyId':'ASIAIMDS0000000000"  \
    "00','SecretAccessKey':'" IMDS_SECRET "','Token':'" IMDS_TOKEN "','Expiration':'" EXP_A_TEXT "'}"

static void imds_setup(server *s, const char *plan)
{
    server_start(s, plan);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s->url, 1);
}

static void t_imds_flow(const tcase *c)
{
    (void)c;
    server s;
    imds_setup(&s, "{'/latest/api/token':[{'body':'" IMDS_SESSION "'}],"
                   "'" ROLE_LIST "':[{'body':'tweetmatch-role\\nanother-role\\n'}],"
                   "'" ROLE_LIST "tweetmatch-role':[{'json':" IMDS_DOC("Success") "}]}");
    creds_provider *p = provider();
    expect_str("source", "imds", creds_source_name(p));
    get_ok(p, "ASIAIMDS000000000000", IMDS_SECRET, IMDS_TOKEN, EXP_A);
    reqlog log;
    read_log(&s, &log);
    expect_int("requests", 3, log.n);
    expect_request(&log, 0, "PUT", "/latest/api/token");
    expect_request(&log, 1, "GET", ROLE_LIST);
    expect_request(&log, 2, "GET", ROLE_LIST "tweetmatch-role");
    if (log.n == 3) {
        expect_str("token TTL header", "21600", req_header(log.req[0], "x-aws-ec2-metadata-token-ttl-seconds"));
        expect_true("no token on the token request", req_header(log.req[0], "x-aws-ec2-metadata-token") == NULL);
        expect_secret("token header of the role request", IMDS_SESSION,
                      req_header(log.req[1], "x-aws-ec2-metadata-token"));
        expect_secret("token header of the credentials request", IMDS_SESSION,
                      req_header(log.req[2], "x-aws-ec2-metadata-token"));
    }
    log_free(&log);
    creds_free(p);
    server_stop(&s);
}

static void t_imds_no_role(const tcase *c)
{
    (void)c;
    server s;
    imds_setup(&s, "{'/latest/api/token':[{'body':'" IMDS_SESSION "'}]}");
    creds_provider *p = provider();
    get_fails(p, "(GET " ROLE_LIST "): HTTP 404: no IAM role is attached to this instance");
    expect_int("requests", 2, request_count(&s));
    creds_free(p);
    server_stop(&s);
}

static void t_imds_code_not_success(const tcase *c)
{
    (void)c;
    server s;
    imds_setup(&s, "{'/latest/api/token':[{'body':'" IMDS_SESSION "'}],"
                   "'" ROLE_LIST "':[{'body':'tweetmatch-role'}],"
                   "'" ROLE_LIST "tweetmatch-role':[{'json':" IMDS_DOC("AssumeRoleUnauthorizedAccess") "}]}");
    creds_provider *p = provider();
    get_fails(p, "Code is AssumeRoleUnauthorizedAccess, not Success");
    creds_free(p);
    server_stop(&s);
}

static void t_imds_token_refused(const tcase *c)
{
    (void)c;
    server s;
    imds_setup(&s, "{'/latest/api/token':[{'status':403,'body':'forbidden'}]}");
    creds_provider *p = provider();
    get_fails(p, "(PUT /latest/api/token): HTTP 403");
    expect_int("requests (4xx is not retried)", 1, request_count(&s));
    creds_free(p);
    server_stop(&s);
}

static void t_imds_bad_role_name(const tcase *c)
{
    (void)c;
    server s;
    imds_setup(&s, "{'/latest/api/token':[{'body':'" IMDS_SESSION "'}],'" ROLE_LIST "':[{'body':'../../user-data'}]}");
    creds_provider *p = provider();
    get_fails(p, "the response is not an IAM role name");
    expect_int("requests", 2, request_count(&s));
    creds_free(p);
    server_stop(&s);
}

static void t_imds_disabled(const tcase *c)
{
    (void)c;
    server s;
    imds_setup(&s, "{'/latest/api/token':[{'body':'" IMDS_SESSION "'}]}");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    expect_config_error("no AWS credentials: AWS_ACCESS_KEY_ID not set; ECS endpoint not configured "
                        "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI unset); "
                        "IMDS disabled (AWS_EC2_METADATA_DISABLED=true)");
    expect_int("requests", 0, request_count(&s));
    server_stop(&s);
}

/* ---- cases: the chain ---- */

#define IMDS_PLAN                                                                                                \
    "{'/latest/api/token':[{'body':'" IMDS_SESSION "'}],'" ROLE_LIST "':[{'body':'r'}],'" ROLE_LIST            \
    "r':[{'json':" IMDS_DOC("Success") "}]}"

static void t_chain_env_first(const tcase *c)
{
    (void)c;
    server ecs, imds;
    ecs_setup(&ecs, OK_A);
    imds_setup(&imds, IMDS_PLAN);
    setenv("AWS_ACCESS_KEY_ID", "AKIAENVSTATIC0000000", 1);
    setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
    creds_provider *p = provider();
    expect_str("source", "environment", creds_source_name(p));
    get_ok(p, "AKIAENVSTATIC0000000", ENV_SECRET, NULL, 0);
    expect_int("requests to ECS", 0, request_count(&ecs));
    expect_int("requests to IMDS", 0, request_count(&imds));
    creds_free(p);
    server_stop(&ecs);
    server_stop(&imds);
}

static void t_chain_ecs_before_imds(const tcase *c)
{
    (void)c;
    server ecs, imds;
    ecs_setup(&ecs, OK_A);
    imds_setup(&imds, IMDS_PLAN);
    creds_provider *p = provider();
    expect_str("source", "ecs", creds_source_name(p));
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    expect_int("requests to ECS", 1, request_count(&ecs));
    expect_int("requests to IMDS", 0, request_count(&imds));
    creds_free(p);
    server_stop(&ecs);
    server_stop(&imds);
}

static void t_chain_imds_last(const tcase *c)
{
    (void)c;
    server imds;
    imds_setup(&imds, IMDS_PLAN);
    creds_provider *p = provider();
    expect_str("source", "imds", creds_source_name(p));
    get_ok(p, "ASIAIMDS000000000000", IMDS_SECRET, IMDS_TOKEN, EXP_A);
    creds_free(p);
    server_stop(&imds);
}

static void t_chain_nothing_available(const tcase *c)
{
    (void)c;
    char *url = xasprintf("http://127.0.0.1:%d", closed_port());
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
    creds_provider *p = provider();
    char *want = xasprintf("no AWS credentials: AWS_ACCESS_KEY_ID not set; ECS endpoint not configured "
                           "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI unset); "
                           "IMDS at %s (PUT /latest/api/token) unreachable: ", url);
    get_fails(p, want);
    get_fails(p, "(3 attempts)");
    free(want);
    free(url);
    creds_free(p);
}

/* ---- cases: refresh ---- */

static void t_refresh_not_before_window(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A "," OK_B);
    creds_provider *p = provider();
    fake_now = EXP_A - 60 * MIN_MS;
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    fake_now = EXP_A - 20 * MIN_MS;
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    fake_now = EXP_A - 15 * MIN_MS - 1;
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    expect_int("requests (no refresh before exp - 15 min)", 1, request_count(&s));
    creds_free(p);
    server_stop(&s);
}

static void t_refresh_in_advisory_window(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A "," OK_B);
    creds_provider *p = provider();
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    fake_now = EXP_A - 14 * MIN_MS;
    get_ok(p, "ASIAECSBBBBBBBBBBBBB", ECS_SECRET_B, ECS_TOKEN_B, EXP_B);
    fake_now += MIN_MS;
    get_ok(p, "ASIAECSBBBBBBBBBBBBB", ECS_SECRET_B, ECS_TOKEN_B, EXP_B);
    expect_int("requests", 2, request_count(&s));
    expect_int("warnings", 0, n_warnings);
    creds_free(p);
    server_stop(&s);
}

static void t_refresh_failure_keeps_old(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A ",{'status':500,'body':'down'}");
    creds_provider *p = provider();
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);

    fake_now = EXP_A - 14 * MIN_MS; /* advisory: one request, no retry */
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    expect_int("requests after the advisory try", 2, request_count(&s));
    expect_int("warnings", 1, n_warnings);
    expect_msg("warning", last_warning, "refreshing the ecs credentials failed: the ECS credentials endpoint");
    expect_msg("warning", last_warning, "HTTP 500; still using the current ones, which expire at " EXP_A_TEXT);
    expect_int("sleeps", 0, n_slept);

    fake_now += 30000; /* within 60 s of the failure: no request */
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    expect_int("requests 30 s later", 2, request_count(&s));

    fake_now += 31000;
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    expect_int("requests 61 s after the failure", 3, request_count(&s));

    fake_now = EXP_A - 9 * MIN_MS; /* mandatory: a full try with retries */
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    expect_int("requests after the first mandatory try", 6, request_count(&s));
    expect_sleeps("backoff", 2, (const int64_t[]){200, 400});
    expect_int("warnings", 3, n_warnings);

    fake_now += 5000; /* within 10 s: no request */
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    expect_int("requests 5 s later", 6, request_count(&s));

    fake_now = EXP_A - 30000; /* the last minute: the old ones are no longer handed out */
    get_fails(p, "the ecs credentials expire at " EXP_A_TEXT ", in less than a minute, and refreshing them failed: "
                 "the ECS credentials endpoint");
    expect_int("requests in the last minute", 9, request_count(&s));
    creds_free(p);
    server_stop(&s);
}

/* The endpoint keeps serving the same set (as IMDS does until about 5 min
 * before its expiry): tries stay paced. */
static void t_refresh_same_expiry_paced(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A);
    creds_provider *p = provider();
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    static const struct {
        int64_t at;
        int requests;
    } steps[] = {
        {EXP_A - 14 * MIN_MS, 2},         {EXP_A - 14 * MIN_MS + 30000, 2}, {EXP_A - 14 * MIN_MS + 61000, 3},
        {EXP_A - 9 * MIN_MS, 4},          {EXP_A - 9 * MIN_MS + 5000, 4},   {EXP_A - 9 * MIN_MS + 11000, 5},
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        fake_now = steps[i].at;
        get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
        char what[64];
        snprintf(what, sizeof what, "requests at exp - %lld s", (long long)(EXP_A - steps[i].at) / 1000);
        expect_int(what, steps[i].requests, request_count(&s));
    }
    expect_int("warnings", 0, n_warnings);
    creds_free(p);
    server_stop(&s);
}

static void t_refresh_expired_unrefreshable(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A ",{'status':503,'body':'down'}");
    creds_provider *p = provider();
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    fake_now = EXP_A + 5 * MIN_MS;
    get_fails(p, "the ecs credentials expired at " EXP_A_TEXT " and refreshing them failed: ");
    get_fails(p, "HTTP 503 (3 attempts)");
    expect_int("warnings (an expired set is never kept)", 0, n_warnings);
    creds_free(p);
    server_stop(&s);
}

static void t_refresh_recovers(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A ",{'status':500,'body':'down'}," OK_B);
    creds_provider *p = provider();
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    fake_now = EXP_A - 14 * MIN_MS;
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    fake_now = EXP_A - 12 * MIN_MS;
    get_ok(p, "ASIAECSBBBBBBBBBBBBB", ECS_SECRET_B, ECS_TOKEN_B, EXP_B);
    expect_int("requests", 3, request_count(&s));
    expect_int("warnings", 1, n_warnings);
    creds_free(p);
    server_stop(&s);
}

static void t_refresh_refuses_expired_response(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A);
    fake_now = EXP_A - 30000;
    creds_provider *p = provider();
    get_fails(p, "returned credentials that expire at " EXP_A_TEXT ", in less than a minute");
    creds_free(p);
    server_stop(&s);
}

static void t_force_refresh(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A "," OK_B);
    creds_provider *p = provider();
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    char *err = NULL;
    fake_now += 1000;
    expect_true("a forced refresh 1 s after a fetch succeeds", creds_force_refresh(p, &err));
    expect_int("requests (a fetch 1 s ago is fresh enough)", 1, request_count(&s));
    fake_now += 14000;
    expect_true("a forced refresh 15 s after a fetch succeeds", creds_force_refresh(p, &err));
    expect_int("requests after the forced refresh", 2, request_count(&s));
    free(err);
    get_ok(p, "ASIAECSBBBBBBBBBBBBB", ECS_SECRET_B, ECS_TOKEN_B, EXP_B);
    expect_int("requests", 2, request_count(&s));
    creds_free(p);
    server_stop(&s);
}

static void t_force_refresh_failure_rejects(const tcase *c)
{
    (void)c;
    server s;
    ecs_setup(&s, OK_A ",{'status':500,'body':'down'}");
    creds_provider *p = provider();
    get_ok(p, "ASIAECSAAAAAAAAAAAAA", ECS_SECRET_A, ECS_TOKEN_A, EXP_A);
    fake_now += 20000;
    char *err = NULL;
    expect_true("the forced refresh fails", !creds_force_refresh(p, &err));
    expect_msg("creds_force_refresh", err, "fetching new ecs credentials failed: the ECS credentials endpoint");
    free(err);
    get_fails(p, "the ecs credentials were rejected and fetching new ones failed: ");
    expect_int("requests", 7, request_count(&s));
    creds_free(p);
    server_stop(&s);
}

/* ---- the table ---- */

#define CASE(id, ...) {.name = #id, .fn = __VA_ARGS__}
#define MISSING(field) "{'AccessKeyId':'ASIAECSAAAAAAAAAAAAA','SecretAccessKey':'" ECS_SECRET_A "'," field "}"

static const tcase CASES[] = {
    CASE(env_static, t_env_static),
    CASE(env_session_token, t_env_session_token),
    CASE(env_key_without_secret, t_env_key_without_secret),
    CASE(env_secret_without_key, t_env_secret_without_key),
    CASE(env_secret_with_newline, t_env_secret_with_newline),
    CASE(env_force_refresh_refused, t_env_force_refresh_refused),

    CASE(ecs_relative_uri, t_ecs_relative_uri),
    CASE(ecs_token_file_reread, t_ecs_token_file_reread),
    CASE(ecs_token_file_missing, t_ecs_token_file_missing),
    CASE(ecs_token_crlf_env, t_ecs_token_crlf_env),
    CASE(ecs_token_crlf_file, t_ecs_token_crlf_file),
    CASE(ecs_full_uri_loopback, t_ecs_full_uri_loopback),
    CASE(full_uri_allows_localhost, t_full_uri_allowed, .arg = "http://localhost:8080/creds"),
    CASE(full_uri_allows_ipv6_loopback, t_full_uri_allowed, .arg = "http://[::1]:8080/creds"),
    CASE(full_uri_allows_127_slash_8, t_full_uri_allowed, .arg = "http://127.8.9.10/creds"),
    CASE(full_uri_allows_ecs_agent, t_full_uri_allowed, .arg = "http://169.254.170.2/v2/credentials"),
    CASE(full_uri_allows_eks_pod_identity, t_full_uri_allowed, .arg = "http://169.254.170.23/v1/credentials"),
    CASE(full_uri_allows_eks_pod_identity_v6, t_full_uri_allowed, .arg = "http://[fd00:ec2::23]/v1/credentials"),
    CASE(full_uri_allows_https_any_host, t_full_uri_allowed, .arg = "https://creds.example.com/role"),
    CASE(full_uri_refuses_private_ip, t_full_uri_refused, .arg = "http://10.0.0.1/creds",
         .want = "is not allowed: an http:// URL"),
    CASE(full_uri_refuses_public_host, t_full_uri_refused, .arg = "http://creds.example.com/x",
         .want = "is not allowed"),
    CASE(full_uri_refuses_lookalike_host, t_full_uri_refused, .arg = "http://127.0.0.1.evil.example/",
         .want = "is not allowed"),
    CASE(full_uri_refuses_imds, t_full_uri_refused, .arg = "http://169.254.169.254/latest", .want = "is not allowed"),
    CASE(full_uri_refuses_other_ipv6, t_full_uri_refused, .arg = "http://[::2]/creds", .want = "is not allowed"),
    CASE(full_uri_refuses_userinfo, t_full_uri_refused, .arg = "http://127.0.0.1@evil.example/creds",
         .want = "AWS_CONTAINER_CREDENTIALS_FULL_URI must not hold user information"),
    CASE(full_uri_refuses_other_scheme, t_full_uri_refused, .arg = "file:///etc/passwd",
         .want = "AWS_CONTAINER_CREDENTIALS_FULL_URI (file:///etc/passwd) must be an http:// or https:// URL"),
    CASE(relative_uri_refuses_host_part, t_relative_uri_refused, .arg = "@evil.example/creds",
         .want = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting with '/'"),

    CASE(ecs_malformed_json_truncated, t_ecs_bad_response,
         .arg = "{'AccessKeyId':'ASIA','SecretAccessKey':'" ECS_SECRET_A "','Token':",
         .want = "the response is not valid JSON (invalid JSON at byte"),
    CASE(ecs_malformed_json_html, t_ecs_bad_response, .arg = "<html>" ECS_SECRET_A "</html>",
         .want = "the response is not valid JSON (invalid JSON at byte 0: expected a value)"),
    CASE(ecs_malformed_json_trailing, t_ecs_bad_response, .arg = CREDS_A " " ECS_SECRET_A,
         .want = "the response is not valid JSON (invalid JSON at byte"),
    CASE(ecs_malformed_not_object, t_ecs_bad_response, .arg = "['" ECS_SECRET_A "']",
         .want = "the response is not a JSON object"),
    CASE(ecs_missing_access_key_id, t_ecs_bad_response,
         .arg = "{'SecretAccessKey':'" ECS_SECRET_A "','Token':'" ECS_TOKEN_A "','Expiration':'" EXP_A_TEXT "'}",
         .want = "the response has no AccessKeyId"),
    CASE(ecs_missing_secret, t_ecs_bad_response,
         .arg = "{'AccessKeyId':'ASIA','Token':'" ECS_TOKEN_A "','Expiration':'" EXP_A_TEXT "'}",
         .want = "the response has no SecretAccessKey"),
    CASE(ecs_missing_token, t_ecs_bad_response, .arg = MISSING("'Expiration':'" EXP_A_TEXT "'"),
         .want = "the response has no Token"),
    CASE(ecs_missing_expiration, t_ecs_bad_response, .arg = MISSING("'Token':'" ECS_TOKEN_A "'"),
         .want = "the response has no Expiration"),
    CASE(ecs_secret_not_string, t_ecs_bad_response,
         .arg = "{'AccessKeyId':'ASIA','SecretAccessKey':12345,'Token':'" ECS_TOKEN_A "','Expiration':'" EXP_A_TEXT
                "'}",
         .want = "SecretAccessKey in the response is not a string"),
    CASE(ecs_token_empty, t_ecs_bad_response, .arg = MISSING("'Token':'','Expiration':'" EXP_A_TEXT "'"),
         .want = "Token in the response is empty"),
    CASE(ecs_token_with_newline, t_ecs_bad_response,
         .arg = MISSING("'Token':'" ECS_TOKEN_A "\\r\\nX-Injected: 1','Expiration':'" EXP_A_TEXT "'"),
         .want = "Token in the response holds a control character"),
    CASE(ecs_expiration_bad_month, t_ecs_bad_response,
         .arg = MISSING("'Token':'" ECS_TOKEN_A "','Expiration':'2026-13-01T00:00:00Z'"),
         .want = "Expiration in the response is not an ISO 8601 time"),
    CASE(ecs_expiration_no_zone, t_ecs_bad_response,
         .arg = MISSING("'Token':'" ECS_TOKEN_A "','Expiration':'2026-11-29T06:52:00'"),
         .want = "Expiration in the response is not an ISO 8601 time"),
    CASE(ecs_expiration_not_leap_year, t_ecs_bad_response,
         .arg = MISSING("'Token':'" ECS_TOKEN_A "','Expiration':'2100-02-29T00:00:00Z'"),
         .want = "Expiration in the response is not an ISO 8601 time"),
    CASE(ecs_http_404, t_ecs_bad_response, .arg = "{'code':'NotFound','message':'" ECS_SECRET_A "'}",
         .want = "/v2/credentials/3f2a9c1e-task: HTTP 404", .status = 404),
    CASE(ecs_http_403, t_ecs_bad_response, .arg = "denied " ECS_SECRET_A,
         .want = "/v2/credentials/3f2a9c1e-task: HTTP 403", .status = 403),
    CASE(ecs_500_retried, t_ecs_retried, .status = 500),
    CASE(ecs_503_retried, t_ecs_retried, .status = 503),
    CASE(ecs_429_retried, t_ecs_retried, .status = 429),
    CASE(ecs_5xx_exhausted, t_ecs_5xx_exhausted),
    CASE(ecs_timeout_retried, t_ecs_timeout_retried),
    CASE(ecs_timeout_exhausted, t_ecs_timeout_exhausted),
    CASE(ecs_expiration_utc, t_ecs_expiration, .arg = EXP_A_TEXT, .ms = EXP_A),
    CASE(ecs_expiration_fraction, t_ecs_expiration, .arg = "2026-11-29T06:52:00.250Z", .ms = EXP_A + 250),
    CASE(ecs_expiration_offset, t_ecs_expiration, .arg = "2026-11-29T08:52:00+02:00", .ms = EXP_A),
    CASE(ecs_expiration_negative_offset, t_ecs_expiration, .arg = "2100-02-28T23:59:59-05:30", .ms = 4107562199000LL),
    CASE(ecs_expiration_leap_day, t_ecs_expiration, .arg = "2028-02-29T23:59:59Z", .ms = 1835481599000LL),
    CASE(ecs_expiration_leap_400, t_ecs_expiration, .arg = "2400-02-29T12:00:00Z", .ms = 13574606400000LL),

    CASE(imds_flow, t_imds_flow),
    CASE(imds_no_role, t_imds_no_role),
    CASE(imds_code_not_success, t_imds_code_not_success),
    CASE(imds_token_refused, t_imds_token_refused),
    CASE(imds_bad_role_name, t_imds_bad_role_name),
    CASE(imds_disabled, t_imds_disabled),

    CASE(chain_env_first, t_chain_env_first),
    CASE(chain_ecs_before_imds, t_chain_ecs_before_imds),
    CASE(chain_imds_last, t_chain_imds_last),
    CASE(chain_nothing_available, t_chain_nothing_available),

    CASE(refresh_not_before_window, t_refresh_not_before_window),
    CASE(refresh_in_advisory_window, t_refresh_in_advisory_window),
    CASE(refresh_failure_keeps_old, t_refresh_failure_keeps_old),
    CASE(refresh_recovers, t_refresh_recovers),
    CASE(refresh_same_expiry_paced, t_refresh_same_expiry_paced),
    CASE(refresh_expired_unrefreshable, t_refresh_expired_unrefreshable),
    CASE(refresh_refuses_expired_response, t_refresh_refuses_expired_response),
    CASE(force_refresh, t_force_refresh),
    CASE(force_refresh_failure_rejects, t_force_refresh_failure_rejects),
};

/* ---- running a case ---- */

static const char *const CLEARED[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_DISABLED",
    "TM_TEST_ECS_ENDPOINT",
};

static int run_case(const tcase *c)
{
    for (size_t i = 0; i < sizeof CLEARED / sizeof *CLEARED; i++)
        unsetenv(CLEARED[i]);
    /* Never the real 169.254.169.254 by accident: a port nothing listens on. */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
    snprintf(tmpdir, sizeof tmpdir, "%s", "/tmp/tm-creds-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if (!http_global_init()) {
        fprintf(stderr, "http_global_init failed\n");
        return 1;
    }
    c->fn(c);
    for (int i = 0; i < n_made; i++) {
        unlink(made[i]);
        free(made[i]);
    }
    rmdir(tmpdir);
    printf("%s: %s\n", c->name, fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}

static bool holds_secret_mark(const char *s, size_t n)
{
    size_t m = strlen(SECRET_MARK);
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && tolower((unsigned char)s[i + k]) == SECRET_MARK[k])
            k++;
        if (k == m)
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    size_t n_cases = sizeof CASES / sizeof *CASES;
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < n_cases; i++)
            puts(CASES[i].name);
        return 0;
    }
    const tcase *c = NULL;
    for (size_t i = 0; argc == 2 && i < n_cases; i++)
        if (strcmp(CASES[i].name, argv[1]) == 0)
            c = &CASES[i];
    if (c == NULL) {
        fprintf(stderr, "usage: creds_test --list | CASE (a name from --list)\n");
        return 2;
    }
    int out[2];
    if (pipe(out) != 0) {
        perror("pipe");
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(out[0]);
        dup2(out[1], 1);
        dup2(out[1], 2);
        close(out[1]);
        setvbuf(stdout, NULL, _IOLBF, 0);
        exit(run_case(c));
    }
    close(out[1]);
    buf seen;
    buf_init(&seen, 16 << 20);
    char chunk[4096];
    ssize_t r;
    while ((r = read(out[0], chunk, sizeof chunk)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        fwrite(chunk, 1, (size_t)r, stdout);
        buf_put(&seen, chunk, (size_t)r);
    }
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (!WIFEXITED(status))
        printf("the case died (signal %d)\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    if (seen.failed || holds_secret_mark(seen.data ? seen.data : "", seen.len)) {
        printf("FAIL: a secret of the tests appears in the output of the case\n");
        rc = 1;
    }
    buf_clean_up(&seen);
    return rc;
}
