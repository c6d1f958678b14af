/*
 * api/sse_watch.c - the hub's watch over idle streams: heartbeats every heartbeat_s seconds, and
 * the streams whose client has gone ended at once. A suspended connection is not polled by
 * libmicrohttpd, so without the second a closed stream would hold its connection (and its slot
 * under the connection caps) until the next heartbeat's write failed, up to heartbeat_s later.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "sse.h"
#include "sse_private.h"

void api_sse_watch_fd(api_sse_sub_t *sub, int fd) {
    pthread_mutex_lock(&sub->hub->mu);
    sub->fd = fd;
    pthread_mutex_unlock(&sub->hub->mu);
}

/* Whether poll's revents on a stream's socket mean its client has gone: a hang-up or error, or
 * readable with nothing to read (the end of the stream; an EventSource never sends on it, so
 * bytes to read are left alone). */
static int client_gone(int fd, short revents) {
    char b;
    if (revents & (POLLHUP | POLLERR | POLLNVAL))
        return 1;
    ssize_t got = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

size_t api_sse_reap(api_sse_hub_t *hub) {
    size_t ended = 0, n = 0;
    pthread_mutex_lock(&hub->mu);
    /* Only suspended streams: their descriptors cannot be closed under us (libmicrohttpd closes
     * a connection only after it is resumed, which takes this mutex). */
    struct pollfd *fds = hub->n_subs ? malloc(hub->n_subs * sizeof(*fds)) : NULL;
    api_sse_sub_t **subs = hub->n_subs ? malloc(hub->n_subs * sizeof(*subs)) : NULL;
    if (fds && subs) {
        for (size_t i = 0; i < hub->n_ch; i++)
            for (api_sse_sub_t *s = hub->ch[i]->subs; s && n < hub->n_subs; s = s->next)
                if (s->suspended && s->fd >= 0 && !s->gone) {
                    fds[n] = (struct pollfd){.fd = s->fd, .events = POLLIN};
                    subs[n++] = s;
                }
        if (n && poll(fds, (nfds_t)n, 0) > 0) {
            for (size_t i = 0; i < n; i++)
                if (fds[i].revents && client_gone(fds[i].fd, fds[i].revents)) {
                    subs[i]->gone = 1;
                    api_sse_wake(subs[i]); /* its reader reports the end; MHD closes it */
                    ended++;
                }
        }
    }
    pthread_mutex_unlock(&hub->mu);
    free(fds);
    free(subs);
    return ended;
}

void api_sse_heartbeat(api_sse_hub_t *hub) {
    static const char beat[] = ": heartbeat\n\n";
    pthread_mutex_lock(&hub->mu);
    for (size_t i = 0; i < hub->n_ch; i++)
        for (api_sse_sub_t *s = hub->ch[i]->subs; s; s = s->next)
            if (s->phase != SSE_END && s->len == s->off &&
                api_sse_append(s, beat, sizeof(beat) - 1, 0) == 0)
                api_sse_wake(s);
    pthread_mutex_unlock(&hub->mu);
}

void *api_sse_watch_main(void *arg) {
    api_sse_hub_t *hub = arg;
    struct timespec next_beat;
    clock_gettime(CLOCK_REALTIME, &next_beat);
    next_beat.tv_sec += hub->heartbeat_s;
    pthread_mutex_lock(&hub->mu);
    while (hub->hb_running) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += API_SSE_WATCH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (hub->hb_running && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&hub->hb_cv, &hub->mu, &until);
        if (!hub->hb_running)
            break;
        pthread_mutex_unlock(&hub->mu);
        api_sse_reap(hub);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec > next_beat.tv_sec ||
            (now.tv_sec == next_beat.tv_sec && now.tv_nsec >= next_beat.tv_nsec)) {
            api_sse_heartbeat(hub);
            next_beat = now;
            next_beat.tv_sec += hub->heartbeat_s;
        }
        pthread_mutex_lock(&hub->mu);
    }
    pthread_mutex_unlock(&hub->mu);
    return NULL;
}
