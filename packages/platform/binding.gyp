{
  "targets": [
    {
      "target_name": "netboot_platform",
      "sources": [
        "native/module.c",
        "native/napi-util.c",
        "native/fs-calls.c",
        "native/dir-batch.c",
        "native/ofd-locks.c",
        "native/sockets.c",
        "native/socket-handoff.c",
        "native/sendfile-all.c",
        "native/icmp-echo.c",
        "native/interfaces.c",
        "native/xattrs.c",
        "native/udp-batch.c",
        "native/sync-fs.c",
        "native/pread-nowait.c",
        "native/pwrite-sync.c",
        "native/page-cache.c",
        "native/script-loop.c",
        "native/stream-send.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-fvisibility=hidden"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
