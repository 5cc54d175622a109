// What libcurl's multi interface costs on its own, per request, on this machine: the floor under the gateway's
// engine thread. 64 transfers kept in flight against one URL (keep-alive), as the gateway's engine drives them.
//
//   gcc -O2 -o /tmp/curl_floor bench/curl_floor.c -lcurl
//   taskset -c 0 /tmp/curl_floor http://127.0.0.1:PORT/ perform 40000            # curl_multi_perform + curl_multi_poll
//   taskset -c 0 /tmp/curl_floor http://127.0.0.1:PORT/ socket 40000             # curl_multi_socket_action over epoll
//   taskset -c 0 /tmp/curl_floor http://127.0.0.1:PORT/ perform 40000 gateway    # + reset, options, 9 headers per transfer
//
// Prints the process's CPU time per completed request. Point it at an nginx answering 1 KiB (bench/run.sh's upstream
// configuration, pinned to the other core).
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#define CONCURRENCY 64

static size_t discard(char *data, size_t size, size_t count, void *user) {
    (void)data;
    (void)user;
    return size * count;
}

static int epoll_fd;
static long timer_ms = -1;

static int on_socket(CURL *easy, curl_socket_t socket, int what, void *multi, void *socket_data) {
    (void)easy;
    struct epoll_event event = {0};
    event.data.fd = socket;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, socket, NULL);
        curl_multi_assign(multi, socket, NULL);
        return 0;
    }
    event.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (socket_data) {
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, socket, &event);
    } else {
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, socket, &event);
        curl_multi_assign(multi, socket, (void *)1);
    }
    return 0;
}

static int on_timer(CURLM *multi, long milliseconds, void *user) {
    (void)multi;
    (void)user;
    timer_ms = milliseconds;
    return 0;
}

// What the gateway sets on every transfer (EasyHandle.configure), headers included.
static struct curl_slist *configure(CURL *easy, const char *url, struct curl_slist *old_headers) {
    curl_easy_reset(easy);
    curl_slist_free_all(old_headers);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    const char *lines[] = {
        "User-Agent: wrk", "X-Forwarded-For: 127.0.0.1", "X-Forwarded-Proto: http", "X-Forwarded-Host: 127.0.0.1:8080",
        "X-Request-ID: 01M9792NA42JH9CQEZKNXQK3VK", "Via: 1.1 error-gateway", "Host: 127.0.0.1:1234", "Expect:",
        "Accept:",
    };
    struct curl_slist *headers = NULL;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) headers = curl_slist_append(headers, lines[i]);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    return headers;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s URL perform|socket REQUESTS [gateway]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    int socket_mode = strcmp(argv[2], "socket") == 0;
    int total = atoi(argv[3]);
    int like_gateway = argc > 4 && strcmp(argv[4], "gateway") == 0;

    curl_global_init(CURL_GLOBAL_ALL);
    CURLM *multi = curl_multi_init();
    CURL *handles[CONCURRENCY];
    struct curl_slist *headers[CONCURRENCY] = {0};
    if (socket_mode) {
        epoll_fd = epoll_create1(0);
        curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, multi);
        curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    }
    for (int i = 0; i < CONCURRENCY; i++) {
        handles[i] = curl_easy_init();
        if (like_gateway) {
            headers[i] = configure(handles[i], url, NULL);
        } else {
            curl_easy_setopt(handles[i], CURLOPT_URL, url);
            curl_easy_setopt(handles[i], CURLOPT_WRITEFUNCTION, discard);
            curl_easy_setopt(handles[i], CURLOPT_NOSIGNAL, 1L);
        }
        curl_easy_setopt(handles[i], CURLOPT_PRIVATE, (void *)(long)i);
        curl_multi_add_handle(multi, handles[i]);
    }
    int running = 0;
    if (socket_mode) curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);

    struct timespec start, end;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
    int done = 0;
    struct epoll_event events[CONCURRENCY];
    while (done < total) {
        if (!socket_mode) curl_multi_perform(multi, &running);
        CURLMsg *message;
        int queued;
        while ((message = curl_multi_info_read(multi, &queued))) {
            if (message->msg != CURLMSG_DONE) continue;
            CURL *easy = message->easy_handle;
            curl_multi_remove_handle(multi, easy);
            done++;
            if (like_gateway) {
                char *index;
                curl_easy_getinfo(easy, CURLINFO_PRIVATE, &index);
                long i = (long)index;
                headers[i] = configure(easy, url, headers[i]);
                curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)i);
            }
            curl_multi_add_handle(multi, easy);
            if (socket_mode) curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        if (!socket_mode) {
            curl_multi_poll(multi, NULL, 0, 1000, NULL);
        } else {
            int ready = epoll_wait(epoll_fd, events, CONCURRENCY, timer_ms < 0 ? 1000 : (int)timer_ms);
            if (ready == 0) curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
            for (int i = 0; i < ready; i++) {
                int flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0)
                    | (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0);
                curl_multi_socket_action(multi, events[i].data.fd, flags, &running);
            }
        }
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &end);
    double microseconds = ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / 1e3 / done;
    printf("%s%s: %d requests, %.1f us CPU per request\n", argv[2], like_gateway ? " (gateway options)" : "", done,
        microseconds);
    return 0;
}
