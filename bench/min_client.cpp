// min_client PORT SHA KEY: the least a program can do to take a token from a
// new process, as a floor for the one-shot figures of bench/run. Statically
// linked like tbucket; one socket, one EVALSHA of tbucket's take script with
// the arguments redis-cli sends in the same run (and, like tbucket, a fresh
// random request id), one read; no parsing of options, URLs or the reply, no
// output. Exit 0 when the reply is an array.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// Appends one RESP bulk string ("$<len>\r\n<text>\r\n") at `out`.
char* bulk(char* out, const char* text) {
    std::size_t len = std::strlen(text);
    out += std::sprintf(out, "$%zu\r\n", len);
    std::memcpy(out, text, len);
    out += len;
    *out++ = '\r';
    *out++ = '\n';
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4 || std::strlen(argv[2]) != 40 || std::strlen(argv[3]) > 200) {
        std::fprintf(stderr, "usage: min_client PORT SHA KEY\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        return 69;

    unsigned char random[12];
    if (getrandom(random, sizeof random, 0) != sizeof random) return 70;
    char id_key[256];
    int at = std::sprintf(id_key, "%s:id:", argv[3]);
    for (unsigned char b : random) at += std::sprintf(id_key + at, "%02x", b);
    char request[768];
    char* end = request + std::sprintf(request, "*12\r\n");
    const char* args[] = {"EVALSHA", argv[2], "2", argv[3], id_key, "24000",
                          "1",       "all",   "",  "",      "",     ""};
    for (const char* arg : args) end = bulk(end, arg);
    if (write(fd, request, static_cast<std::size_t>(end - request)) != end - request) return 69;
    char reply[1024];
    ssize_t got = read(fd, reply, sizeof reply);
    close(fd);
    return got > 0 && reply[0] == '*' ? 0 : 1;
}
