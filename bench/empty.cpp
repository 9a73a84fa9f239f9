// The spawn floor: a statically linked program that does nothing.
int main() {
    return 0;
}
