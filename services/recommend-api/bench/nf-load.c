/*
 * nf-load: a closed-loop HTTP/1.1 load generator for the recommend-API benchmark, built to cost
 * the machine as little CPU per request as possible (the benchmark's client shares the cores of
 * the servers it measures). scripts/bench-tools.sh compiles it with the system's cc.
 *
 *   nf-load --port N [--host 127.0.0.1] [--connections 32] [--threads 1] [--duration 5]
 *           [--pipeline 1] [--close 0|1] [--timeout 10] (--path P | --prefix P --suffix S --count N --step K)
 *
 * Each thread drives its share of the connections with one epoll loop. A connection writes
 * `pipeline` requests in one write, waits for all their answers, then writes the next batch (wrk's
 * pipelining, so the two compare). Requests are GET with a Host header; the paths follow the
 * bench's walk (ids n + 1 for n = step, 2·step, … mod count, one counter per thread, as wrk's Lua
 * walk keeps one per thread). Answers are framed by Content-Length only: an answer without one
 * (chunked, or a close-delimited body) is an error, and the connection is replaced. `--close 1`:
 * a new connection per batch (requests say `Connection: close`; the client closes once answered).
 *
 * Prints one JSON line: requests answered within the duration, the duration in µs, latency
 * percentiles (from each batch's write to its answer, at the granularity of one epoll wake-up),
 * errors (connect, read, write, framing, timeouts), non-2xx answers, and the process's own CPU
 * (user + system) spent while the connections ran, so the caller gets CPU per request exactly.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BUFFER (64 * 1024)
#define MAX_HEAD (16 * 1024)
/* Latency histogram: exact below 1024 µs, then 64 sub-buckets per power of two (≤ 1.6 % wide). */
#define SUB_BITS 6
#define BUCKETS (1024 + 40 * (1 << SUB_BITS))

struct options {
  const char *host;
  int port;
  int connections;
  int threads;
  double duration;
  int pipeline;
  int close;
  double timeout;
  const char *path;
  const char *prefix;
  const char *suffix;
  long count;
  long step;
};

struct connection {
  int fd;
  int connected;
  int in_flight;       /* requests of the current batch not yet answered */
  long body_left;      /* bytes of the current answer's body still to skip */
  size_t buffered;     /* bytes of an unfinished head kept at the start of buf */
  char *out;           /* the batch being written */
  size_t out_len, out_sent;
  uint64_t sent_at, last_progress;
  char *buf;
};

/* Aligned: each thread's counters on cache lines of their own. */
struct __attribute__((aligned(64))) worker {
  pthread_t thread;
  const struct options *opt;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  struct connection *conns;
  int nconns;
  int epoll;
  long walk;
  uint64_t start, deadline;
  /* results */
  uint64_t requests, errors, non2xx;
  uint64_t *histogram;
};

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int bucket_of(uint64_t us) {
  if (us < 1024) return (int)us;
  int bits = 63 - __builtin_clzll(us); /* ≥ 10 */
  int sub = (int)((us >> (bits - SUB_BITS)) & ((1 << SUB_BITS) - 1));
  int b = 1024 + (bits - 10) * (1 << SUB_BITS) + sub;
  return b < BUCKETS ? b : BUCKETS - 1;
}

static uint64_t bucket_value(int b) {
  if (b < 1024) return (uint64_t)b;
  int bits = (b - 1024) / (1 << SUB_BITS) + 10;
  int sub = (b - 1024) % (1 << SUB_BITS);
  return ((uint64_t)((1 << SUB_BITS) + sub)) << (bits - SUB_BITS);
}

static void close_connection(struct worker *w, struct connection *c) {
  if (c->fd >= 0) {
    epoll_ctl(w->epoll, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
}

static int open_connection(struct worker *w, struct connection *c) {
  c->fd = socket(w->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->connected = 0;
  c->in_flight = 0;
  c->body_left = 0;
  c->buffered = 0;
  c->out_len = c->out_sent = 0;
  c->last_progress = now_us();
  if (connect(c->fd, (struct sockaddr *)&w->addr, w->addr_len) < 0 && errno != EINPROGRESS) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
  epoll_ctl(w->epoll, EPOLL_CTL_ADD, c->fd, &ev);
  return 0;
}

/* Replaces a broken connection (its unanswered requests are not counted). */
static void fail(struct worker *w, struct connection *c) {
  w->errors++;
  close_connection(w, c);
  if (now_us() < w->deadline && open_connection(w, c) < 0) w->errors++;
}

static size_t append_request(const struct worker *w, char *out, size_t room, long id) {
  const struct options *o = w->opt;
  const char *connection = o->close ? "Connection: close\r\n" : "";
  int n = o->path ? snprintf(out, room, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", o->path, o->host, o->port, connection)
                  : snprintf(out, room, "GET %s%ld%s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", o->prefix, id, o->suffix, o->host, o->port, connection);
  return n > 0 && (size_t)n < room ? (size_t)n : 0;
}

/* Writes what is left of the batch; 0 when done or waiting for the socket, -1 on error. */
static int flush(struct worker *w, struct connection *c) {
  while (c->out_sent < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_sent, c->out_len - c->out_sent);
    if (n < 0) {
      if (errno == EAGAIN) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(w->epoll, EPOLL_CTL_MOD, c->fd, &ev);
        return 0;
      }
      return -1;
    }
    c->out_sent += (size_t)n;
  }
  return 0;
}

static int send_batch(struct worker *w, struct connection *c, uint64_t now) {
  size_t len = 0;
  size_t room = (size_t)w->opt->pipeline * 512;
  for (int i = 0; i < w->opt->pipeline; i++) {
    long id = 0;
    if (!w->opt->path) {
      w->walk = (w->walk + w->opt->step) % w->opt->count;
      id = w->walk + 1;
    }
    size_t n = append_request(w, c->out + len, room - len, id);
    if (n == 0) return -1;
    len += n;
  }
  c->out_len = len;
  c->out_sent = 0;
  c->in_flight = w->opt->pipeline;
  c->sent_at = now;
  return flush(w, c);
}

/* Value of a header in [p, end), or -1 when absent. Names compared case-insensitively. */
static long content_length(const char *p, const char *end, int *bad) {
  long value = -1;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) break;
    if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0) {
      const char *v = p + 15;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      long n = 0;
      int digits = 0;
      while (v < eol && *v >= '0' && *v <= '9') n = n * 10 + (*v++ - '0'), digits++;
      if (!digits || value >= 0) *bad = 1;
      value = n;
    } else if ((size_t)(eol - p) > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0) {
      *bad = 1;
    }
    p = eol + 1;
  }
  return value;
}

/* Consumes answers in c->buf[0, len); returns -1 on a framing error. */
static int parse(struct worker *w, struct connection *c, size_t len, uint64_t now) {
  char *p = c->buf;
  char *end = c->buf + len;
  while (p < end) {
    if (c->body_left > 0) {
      long take = end - p < c->body_left ? (long)(end - p) : c->body_left;
      p += take;
      c->body_left -= take;
      if (c->body_left > 0) break;
      continue;
    }
    char *head_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
    if (!head_end) {
      if (end - p > MAX_HEAD) return -1;
      break;
    }
    if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0) return -1;
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    int bad = 0;
    long body = content_length(p, head_end + 2, &bad);
    if (bad || body < 0) return -1;
    if (c->in_flight <= 0) return -1; /* an answer nobody asked for */
    p = head_end + 4;
    c->body_left = body;
    /* The answer counts once its head is read; its body is skipped as it comes. */
    c->in_flight--;
    if (now <= w->deadline) {
      w->requests++;
      if (status < 200 || status > 299) w->non2xx++;
      w->histogram[bucket_of(now - c->sent_at)]++;
    }
  }
  c->buffered = (size_t)(end - p);
  if (c->buffered) memmove(c->buf, p, c->buffered);
  return 0;
}

static void on_readable(struct worker *w, struct connection *c, uint64_t now) {
  for (;;) {
    size_t room = READ_BUFFER - c->buffered;
    ssize_t n = read(c->fd, c->buf + c->buffered, room);
    if (n == 0) {
      fail(w, c);
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN) break;
      fail(w, c);
      return;
    }
    c->last_progress = now;
    if (parse(w, c, c->buffered + (size_t)n, now) < 0) {
      fail(w, c);
      return;
    }
    /* Read again only when the buffer filled (as wrk does): otherwise epoll says when there is more. */
    if ((size_t)n < room) break;
  }
  /* A whole batch answered (bodies included): the next one, on a new connection with --close. */
  if (c->in_flight > 0 || c->body_left > 0 || now >= w->deadline) return;
  if (w->opt->close) {
    close_connection(w, c);
    if (open_connection(w, c) < 0) w->errors++;
  } else if (send_batch(w, c, now) < 0) {
    fail(w, c);
  }
}

static void on_writable(struct worker *w, struct connection *c, uint64_t now) {
  if (!c->connected) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      fail(w, c);
      return;
    }
    c->connected = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(w->epoll, EPOLL_CTL_MOD, c->fd, &ev);
    if (send_batch(w, c, now) < 0) fail(w, c);
    return;
  }
  if (flush(w, c) < 0) {
    fail(w, c);
    return;
  }
  if (c->out_sent == c->out_len) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(w->epoll, EPOLL_CTL_MOD, c->fd, &ev);
  }
}

static void *run_worker(void *arg) {
  struct worker *w = arg;
  w->epoll = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < w->nconns; i++) {
    struct connection *c = &w->conns[i];
    c->buf = malloc(READ_BUFFER);
    c->out = malloc((size_t)w->opt->pipeline * 512);
    if (open_connection(w, c) < 0) w->errors++;
  }
  struct epoll_event events[256];
  uint64_t timeout_us = (uint64_t)(w->opt->timeout * 1e6);
  uint64_t last_sweep = w->start;
  for (;;) {
    int n = epoll_wait(w->epoll, events, 256, 100);
    uint64_t now = now_us();
    if (now >= w->deadline) break;
    for (int i = 0; i < n; i++) {
      struct connection *c = events[i].data.ptr;
      if (c->fd < 0) continue;
      if (events[i].events & (EPOLLOUT | EPOLLERR)) on_writable(w, c, now);
      if (c->fd >= 0 && events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) on_readable(w, c, now);
    }
    if (now - last_sweep > 100000) {
      last_sweep = now;
      for (int i = 0; i < w->nconns; i++) {
        struct connection *c = &w->conns[i];
        if (c->fd >= 0 && c->in_flight > 0 && now - c->last_progress > timeout_us) fail(w, c);
        else if (c->fd < 0 && open_connection(w, c) < 0) w->errors++;
      }
    }
  }
  for (int i = 0; i < w->nconns; i++) {
    close_connection(w, &w->conns[i]);
    free(w->conns[i].buf);
    free(w->conns[i].out);
  }
  close(w->epoll);
  return NULL;
}

static uint64_t cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u + (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void usage(void) {
  fprintf(stderr, "usage: nf-load --port N [--host H] [--connections C] [--threads T] [--duration S] [--pipeline P] [--close 0|1] [--timeout S] (--path P | --prefix P --suffix S --count N --step K)\n");
  exit(2);
}

int main(int argc, char **argv) {
  struct options o = {.host = "127.0.0.1", .connections = 32, .threads = 1, .duration = 5, .pipeline = 1, .timeout = 10, .suffix = "", .step = 1};
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--host")) o.host = v;
    else if (!strcmp(k, "--port")) o.port = atoi(v);
    else if (!strcmp(k, "--connections")) o.connections = atoi(v);
    else if (!strcmp(k, "--threads")) o.threads = atoi(v);
    else if (!strcmp(k, "--duration")) o.duration = atof(v);
    else if (!strcmp(k, "--pipeline")) o.pipeline = atoi(v);
    else if (!strcmp(k, "--close")) o.close = atoi(v);
    else if (!strcmp(k, "--timeout")) o.timeout = atof(v);
    else if (!strcmp(k, "--path")) o.path = v;
    else if (!strcmp(k, "--prefix")) o.prefix = v;
    else if (!strcmp(k, "--suffix")) o.suffix = v;
    else if (!strcmp(k, "--count")) o.count = atol(v);
    else if (!strcmp(k, "--step")) o.step = atol(v);
    else usage();
  }
  if (argc % 2 == 0 || o.port <= 0 || o.connections < 1 || o.threads < 1 || o.pipeline < 1 || o.pipeline > 1024 || o.duration <= 0) usage();
  if (!o.path && (!o.prefix || o.count < 1)) usage();
  if (o.threads > o.connections) o.threads = o.connections;

  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
  char port[16];
  snprintf(port, sizeof port, "%d", o.port);
  if (getaddrinfo(o.host, port, &hints, &ai) != 0) {
    fprintf(stderr, "nf-load: cannot resolve %s\n", o.host);
    return 1;
  }

  struct worker *workers = aligned_alloc(64, (size_t)o.threads * sizeof *workers);
  struct connection *conns = calloc((size_t)o.connections, sizeof *conns);
  uint64_t cpu0 = cpu_us();
  uint64_t start = now_us();
  uint64_t deadline = start + (uint64_t)(o.duration * 1e6);
  for (int t = 0, first = 0; t < o.threads; t++) {
    struct worker *w = &workers[t];
    int share = o.connections / o.threads + (t < o.connections % o.threads);
    *w = (struct worker){.opt = &o, .conns = conns + first, .nconns = share, .start = start, .deadline = deadline};
    memcpy(&w->addr, ai->ai_addr, ai->ai_addrlen);
    w->addr_len = ai->ai_addrlen;
    w->histogram = calloc(BUCKETS, sizeof(uint64_t));
    for (int i = 0; i < share; i++) conns[first + i].fd = -1;
    first += share;
    pthread_create(&w->thread, NULL, run_worker, w);
  }
  uint64_t requests = 0, errors = 0, non2xx = 0;
  uint64_t *histogram = calloc(BUCKETS, sizeof(uint64_t));
  for (int t = 0; t < o.threads; t++) {
    pthread_join(workers[t].thread, NULL);
    requests += workers[t].requests;
    errors += workers[t].errors;
    non2xx += workers[t].non2xx;
    for (int b = 0; b < BUCKETS; b++) histogram[b] += workers[t].histogram[b];
  }
  uint64_t elapsed = now_us() - start;
  uint64_t cpu = cpu_us() - cpu0;
  freeaddrinfo(ai);

  uint64_t p50 = 0, p99 = 0, max = 0, seen = 0;
  for (int b = 0; b < BUCKETS; b++) {
    if (!histogram[b]) continue;
    seen += histogram[b];
    if (!p50 && seen * 2 >= requests) p50 = bucket_value(b);
    if (!p99 && seen * 100 >= requests * 99) p99 = bucket_value(b);
    max = bucket_value(b);
  }
  printf("{\"requests\":%llu,\"us\":%llu,\"p50us\":%llu,\"p99us\":%llu,\"maxus\":%llu,\"errors\":%llu,\"non2xx\":%llu,\"cpuUs\":%llu}\n",
         (unsigned long long)requests, (unsigned long long)(elapsed < (uint64_t)(o.duration * 1e6) ? elapsed : (uint64_t)(o.duration * 1e6)),
         (unsigned long long)p50, (unsigned long long)p99, (unsigned long long)max, (unsigned long long)errors,
         (unsigned long long)non2xx, (unsigned long long)cpu);
  return 0;
}
