// CCurl: libcurl for Swift.
//
// `curl_easy_setopt`, `curl_easy_getinfo` and `curl_multi_setopt` are variadic C functions, which Swift cannot
// call. Each wrapper below fixes one argument kind, so the Swift side stays type-checked. Macros that Swift
// cannot import (CURLVERSION_NOW, CURL_WRITEFUNC_PAUSE, …) are re-exported as constants.
#ifndef GATEWAY_CCURL_SHIM_H
#define GATEWAY_CCURL_SHIM_H

#include <curl/curl.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#ifdef __linux__
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#endif

static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*ccurl_data_callback)(char *buffer, size_t size, size_t count, void *userdata);

static inline CURLcode ccurl_easy_setopt_data_callback(CURL *handle, CURLoption option, ccurl_data_callback cb) {
    return curl_easy_setopt(handle, option, cb);
}

static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ccurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode ccurl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

/// Marks a socket close-on-exec (curl does not), so a process the gateway's process starts never inherits an upstream
/// connection and keeps it open after curl closed it.
static inline void ccurl_set_close_on_exec(curl_socket_t socket) {
    int flags = fcntl(socket, F_GETFD);
    if (flags >= 0) {
        (void)fcntl(socket, F_SETFD, flags | FD_CLOEXEC);
    }
}

#ifdef __linux__
// The engine's reactor: libcurl's multi interface driven by `curl_multi_socket_action` over an epoll set, so a turn of
// the engine costs what is ready, not every transfer in flight (`curl_multi_perform` visits every transfer and
// polls each one's socket, `curl_multi_poll` polls all of them). curl says which sockets it wants watched and when
// its next timer falls due through the two callbacks below; the engine waits in `ccurl_reactor_wait`, which hands
// each ready socket to curl with what it is ready for (so curl does not poll it again), and an eventfd wakes it for
// new commands from other threads. Engine thread only, except `ccurl_reactor_wake`.
//
// Connection sockets (opened and closed through the easy handles' socket hooks, `ccurl_easy_set_socket_hooks`) stay
// in the epoll set between transfers: when curl stops watching one (its transfer is done, the connection goes back to
// the pool) it is left registered, and the next transfer on it, the common case, costs no `epoll_ctl` at all when it
// wants the same events. Such a socket leaves the set when it reports an event nobody watches (the server closed
// it, say) and is forgotten when curl closes it (the kernel drops a closed descriptor from the set). Other sockets
// curl may announce (the threaded resolver's socket pair) are added and removed as curl says.

enum {
    /// curl watches the socket (between its announcement and `CURL_POLL_REMOVE`).
    CCURL_SOCKET_WATCHED = 1,
    /// A connection socket opened through the hooks: its registration is tracked below.
    CCURL_SOCKET_OURS = 2,
    /// What it is registered for in the epoll set (tracked for `CCURL_SOCKET_OURS` only).
    CCURL_SOCKET_IN = 4,
    CCURL_SOCKET_OUT = 8,
    CCURL_SOCKET_REGISTERED = CCURL_SOCKET_IN | CCURL_SOCKET_OUT,
};

typedef struct ccurl_reactor {
    CURLM *multi;
    int epoll_fd;
    int wake_fd;
    /// When curl's timer falls due (CLOCK_MONOTONIC, ns), or -1 when it has none.
    int64_t timer_deadline_ns;
    /// Per descriptor: `CCURL_SOCKET_*` flags.
    uint8_t *sockets;
    int sockets_capacity;
} ccurl_reactor;

static inline int64_t ccurl_monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static inline uint8_t ccurl_reactor_socket_state(const ccurl_reactor *reactor, int socket) {
    return socket >= 0 && socket < reactor->sockets_capacity ? reactor->sockets[socket] : 0;
}

static inline void ccurl_reactor_set_socket_state(ccurl_reactor *reactor, int socket, uint8_t state) {
    if (socket < 0) return;
    if (socket >= reactor->sockets_capacity) {
        if (state == 0) return;
        int capacity = reactor->sockets_capacity == 0 ? 1024 : reactor->sockets_capacity;
        while (capacity <= socket) capacity *= 2;
        uint8_t *grown = (uint8_t *)realloc(reactor->sockets, (size_t)capacity);
        if (grown == NULL) return;  // untracked: handled as a socket that is not ours
        for (int i = reactor->sockets_capacity; i < capacity; i++) grown[i] = 0;
        reactor->sockets = grown;
        reactor->sockets_capacity = capacity;
    }
    reactor->sockets[socket] = state;
}

/// `CURLOPT_SOCKOPTFUNCTION`: a new connection socket, close-on-exec, tracked from now on (nothing registered yet).
static int ccurl_reactor_sockopt_callback(void *clientp, curl_socket_t socket, curlsocktype purpose) {
    (void)purpose;
    ccurl_set_close_on_exec(socket);
    ccurl_reactor_set_socket_state((ccurl_reactor *)clientp, socket, CCURL_SOCKET_OURS);
    return CURL_SOCKOPT_OK;
}

/// `CURLOPT_CLOSESOCKETFUNCTION`: curl closes a connection; its descriptor leaves the epoll set with it.
static int ccurl_reactor_closesocket_callback(void *clientp, curl_socket_t socket) {
    ccurl_reactor_set_socket_state((ccurl_reactor *)clientp, socket, 0);
    return close(socket);
}

/// Installs the socket hooks on an easy handle (after each `curl_easy_reset`); connections it opens keep them.
static inline CURLcode ccurl_easy_set_socket_hooks(CURL *handle, ccurl_reactor *reactor) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_SOCKOPTFUNCTION, ccurl_reactor_sockopt_callback);
    if (code == CURLE_OK) code = curl_easy_setopt(handle, CURLOPT_SOCKOPTDATA, reactor);
    if (code == CURLE_OK) code = curl_easy_setopt(handle, CURLOPT_CLOSESOCKETFUNCTION, ccurl_reactor_closesocket_callback);
    if (code == CURLE_OK) code = curl_easy_setopt(handle, CURLOPT_CLOSESOCKETDATA, reactor);
    return code;
}

/// Registers `socket` for `events` (`CCURL_SOCKET_IN`/`OUT`), whether or not it is in the set already.
static inline void ccurl_reactor_register(ccurl_reactor *reactor, int socket, uint8_t events, int known) {
    struct epoll_event event = {0};
    event.data.fd = socket;
    event.events = ((events & CCURL_SOCKET_IN) ? EPOLLIN : 0) | ((events & CCURL_SOCKET_OUT) ? EPOLLOUT : 0);
    int first = known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(reactor->epoll_fd, first, socket, &event) != 0) {
        if (errno == ENOENT) (void)epoll_ctl(reactor->epoll_fd, EPOLL_CTL_ADD, socket, &event);
        else if (errno == EEXIST) (void)epoll_ctl(reactor->epoll_fd, EPOLL_CTL_MOD, socket, &event);
    }
}

/// `CURLMOPT_SOCKETFUNCTION`: keeps the epoll set as curl wants it (see the reactor's comment above).
static int ccurl_reactor_socket_callback(CURL *easy, curl_socket_t socket, int what, void *userp, void *socketp) {
    (void)easy;
    (void)socketp;
    ccurl_reactor *reactor = (ccurl_reactor *)userp;
    uint8_t state = ccurl_reactor_socket_state(reactor, socket);
    int ours = (state & CCURL_SOCKET_OURS) != 0;
    if (what == CURL_POLL_REMOVE) {
        if (ours) {
            ccurl_reactor_set_socket_state(reactor, socket, (uint8_t)(state & ~CCURL_SOCKET_WATCHED));
        } else {
            struct epoll_event unused = {0};
            (void)epoll_ctl(reactor->epoll_fd, EPOLL_CTL_DEL, socket, &unused);
            ccurl_reactor_set_socket_state(reactor, socket, 0);
        }
        return 0;
    }
    uint8_t wanted = (uint8_t)(((what & CURL_POLL_IN) ? CCURL_SOCKET_IN : 0) | ((what & CURL_POLL_OUT) ? CCURL_SOCKET_OUT : 0));
    uint8_t registered = state & CCURL_SOCKET_REGISTERED;
    if (!ours) {
        ccurl_reactor_register(reactor, socket, wanted, (state & CCURL_SOCKET_WATCHED) != 0);
        ccurl_reactor_set_socket_state(reactor, socket, CCURL_SOCKET_WATCHED);
        return 0;
    }
    if (registered != wanted) ccurl_reactor_register(reactor, socket, wanted, registered != 0);
    ccurl_reactor_set_socket_state(reactor, socket, (uint8_t)(CCURL_SOCKET_OURS | CCURL_SOCKET_WATCHED | wanted));
    return 0;
}

/// `CURLMOPT_TIMERFUNCTION`: remembers when curl wants `curl_multi_socket_action(CURL_SOCKET_TIMEOUT)`.
static int ccurl_reactor_timer_callback(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    ccurl_reactor *reactor = (ccurl_reactor *)userp;
    reactor->timer_deadline_ns = timeout_ms < 0 ? -1 : ccurl_monotonic_ns() + (int64_t)timeout_ms * 1000000;
    return 0;
}

/// Makes the reactor of `multi` and installs its callbacks; NULL when epoll or the eventfd cannot be made.
static inline ccurl_reactor *ccurl_reactor_create(CURLM *multi) {
    ccurl_reactor *reactor = (ccurl_reactor *)calloc(1, sizeof(ccurl_reactor));
    if (reactor == NULL) return NULL;
    reactor->multi = multi;
    reactor->timer_deadline_ns = -1;
    reactor->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    reactor->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event event = {0};
    event.events = EPOLLIN;
    event.data.fd = reactor->wake_fd;
    if (reactor->epoll_fd < 0 || reactor->wake_fd < 0
        || epoll_ctl(reactor->epoll_fd, EPOLL_CTL_ADD, reactor->wake_fd, &event) != 0) {
        if (reactor->epoll_fd >= 0) close(reactor->epoll_fd);
        if (reactor->wake_fd >= 0) close(reactor->wake_fd);
        free(reactor);
        return NULL;
    }
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, ccurl_reactor_socket_callback);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, reactor);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, ccurl_reactor_timer_callback);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, reactor);
    return reactor;
}

/// Frees the reactor; call after `curl_multi_cleanup` (which still reports sockets and closes connections).
static inline void ccurl_reactor_destroy(ccurl_reactor *reactor) {
    close(reactor->epoll_fd);
    close(reactor->wake_fd);
    free(reactor->sockets);
    free(reactor);
}

/// Wakes a reactor waiting in `ccurl_reactor_wait`; any thread.
static inline void ccurl_reactor_wake(ccurl_reactor *reactor) {
    uint64_t one = 1;
    ssize_t written;
    do {
        written = write(reactor->wake_fd, &one, sizeof(one));
    } while (written < 0 && errno == EINTR);
}

/// Milliseconds until curl's timer falls due (0: due now), or -1 when it has none.
static inline int ccurl_reactor_timer_ms(const ccurl_reactor *reactor) {
    if (reactor->timer_deadline_ns < 0) return -1;
    int64_t left = reactor->timer_deadline_ns - ccurl_monotonic_ns();
    if (left <= 0) return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > 1000000 ? 1000000 : (int)ms;
}

/// Runs curl's due timers (`CURL_SOCKET_TIMEOUT`); does nothing when none is due.
static inline void ccurl_reactor_run_timers(ccurl_reactor *reactor) {
    int running = 0;
    // A timer's action may set the next one already due (curl's "run now"): a few rounds, not an endless loop; what
    // is still due is run on the next turn, which then does not wait.
    for (int round = 0; round < 4 && ccurl_reactor_timer_ms(reactor) == 0; round++) {
        reactor->timer_deadline_ns = -1;
        (void)curl_multi_socket_action(reactor->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

/// Waits up to `timeout_ms` (0: only looks; -1: no limit) for ready sockets or a wake-up, and hands every ready
/// socket to curl with what it is ready for.
static inline void ccurl_reactor_wait(ccurl_reactor *reactor, int timeout_ms) {
    struct epoll_event events[128];
    int count = epoll_wait(reactor->epoll_fd, events, 128, timeout_ms);
    if (count <= 0) return;
    int running = 0;
    for (int i = 0; i < count; i++) {
        int fd = events[i].data.fd;
        uint32_t ready = events[i].events;
        if (fd == reactor->wake_fd) {
            uint64_t value;
            (void)read(reactor->wake_fd, &value, sizeof(value));
            continue;
        }
        uint8_t state = ccurl_reactor_socket_state(reactor, fd);
        if (!(state & CCURL_SOCKET_WATCHED)) {
            // A pooled connection curl no longer watches (the server closed it, say): out of the set, or its
            // readiness would end every wait at once. curl finds it dead when it next looks at its pool.
            struct epoll_event unused = {0};
            (void)epoll_ctl(reactor->epoll_fd, EPOLL_CTL_DEL, fd, &unused);
            ccurl_reactor_set_socket_state(reactor, fd, (uint8_t)(state & CCURL_SOCKET_OURS));
            continue;
        }
        // A hang-up or an error is handed over as readable too, so curl reads and meets the actual error.
        int bits = ((ready & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)) ? CURL_CSELECT_IN : 0)
            | ((ready & EPOLLOUT) ? CURL_CSELECT_OUT : 0) | ((ready & EPOLLERR) ? CURL_CSELECT_ERR : 0);
        (void)curl_multi_socket_action(reactor->multi, fd, bits, &running);
    }
}
#else
// Elsewhere (macOS builds for development): the same interface over `curl_multi_poll` (the wait) and
// `curl_multi_perform` (run once a turn, after it, as the timers are on Linux).
typedef struct ccurl_reactor {
    CURLM *multi;
} ccurl_reactor;

static inline ccurl_reactor *ccurl_reactor_create(CURLM *multi) {
    ccurl_reactor *reactor = (ccurl_reactor *)calloc(1, sizeof(ccurl_reactor));
    if (reactor != NULL) reactor->multi = multi;
    return reactor;
}

static inline void ccurl_reactor_destroy(ccurl_reactor *reactor) { free(reactor); }

static int ccurl_reactor_sockopt_callback(void *clientp, curl_socket_t socket, curlsocktype purpose) {
    (void)clientp;
    (void)purpose;
    ccurl_set_close_on_exec(socket);
    return CURL_SOCKOPT_OK;
}

static inline CURLcode ccurl_easy_set_socket_hooks(CURL *handle, ccurl_reactor *reactor) {
    (void)reactor;
    return curl_easy_setopt(handle, CURLOPT_SOCKOPTFUNCTION, ccurl_reactor_sockopt_callback);
}

static inline void ccurl_reactor_wake(ccurl_reactor *reactor) { (void)curl_multi_wakeup(reactor->multi); }

static inline int ccurl_reactor_timer_ms(const ccurl_reactor *reactor) {
    (void)reactor;
    return -1;
}

static inline void ccurl_reactor_run_timers(ccurl_reactor *reactor) {
    int running = 0;
    (void)curl_multi_perform(reactor->multi, &running);
}

static inline void ccurl_reactor_wait(ccurl_reactor *reactor, int timeout_ms) {
    (void)curl_multi_poll(reactor->multi, NULL, 0, timeout_ms < 0 ? 1000 : timeout_ms, NULL);
}
#endif

/// Names the calling thread (shown by `top -H`, `gdb`, `/proc/<pid>/task/*/comm`); Linux only, a no-op elsewhere.
static inline void ccurl_set_thread_name(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, name, 0, 0, 0);
#else
    (void)name;
#endif
}

/// How many CPUs the calling thread may run on (its affinity mask: `taskset`, a cpuset), or 0 when unknown (not
/// Linux, or more than 1024 CPUs). The raw system call, because glibc's `CPU_COUNT` is a macro.
static inline int ccurl_allowed_cpu_count(void) {
#ifdef __linux__
    unsigned long mask[1024 / (8 * sizeof(unsigned long))] = {0};
    long bytes = syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask);
    if (bytes <= 0) return 0;
    int count = 0;
    for (long i = 0; i < bytes / (long)sizeof(unsigned long); i++) count += __builtin_popcountl(mask[i]);
    return count;
#else
    return 0;
#endif
}

static const unsigned int CCURL_VERSION_NOW = CURLVERSION_NOW;
static const size_t CCURL_WRITEFUNC_PAUSE = CURL_WRITEFUNC_PAUSE;
static const size_t CCURL_READFUNC_PAUSE = CURL_READFUNC_PAUSE;
static const int CCURL_PAUSE_CONT = CURLPAUSE_CONT;
static const int CCURL_PAUSE_RECV = CURLPAUSE_RECV;
static const long CCURL_GLOBAL_ALL = CURL_GLOBAL_ALL;
static const long CCURL_PROTO_HTTP_HTTPS = CURLPROTO_HTTP | CURLPROTO_HTTPS;
static const int CCURL_VERSION_ASYNCHDNS = CURL_VERSION_ASYNCHDNS;
static const int CCURL_VERSION_THREADSAFE = CURL_VERSION_THREADSAFE;

#endif
