"""Server and system administration sessions."""

from .dsl import A, Chat, T, U

CHATS = [
    Chat(
        "2026-03-02T21:27",
        "gemma3:4b",
        [
            U(
                "nginx returns 502 Bad Gateway for my PHP site since I upgraded the server. Static files are fine."
            ),
            A(
                "A 502 means nginx reached no working upstream: here, PHP-FPM. Start with the nginx error log, it names the exact cause:\n\n```bash\nsudo tail -n 50 /var/log/nginx/error.log\n```\n\nLook for lines like `connect() to unix:/run/php/php8.1-fpm.sock failed (2: No such file or directory)`."
            ),
            U(
                "yes! it says connect() to unix:/run/php/php8.1-fpm.sock failed (2: No such file or directory)"
            ),
            T(
                "run_shell_command",
                {"command": "ls /run/php/"},
                "php8.3-fpm.pid\nphp8.3-fpm.sock\n",
                "2 entries",
            ),
            A(
                "There it is: the upgrade installed PHP 8.3, so the socket is now `/run/php/php8.3-fpm.sock` while your site config still points to 8.1. Edit the `fastcgi_pass` line in your server block:\n\n```nginx\nlocation ~ \\.php$ {\n    include snippets/fastcgi-php.conf;\n    fastcgi_pass unix:/run/php/php8.3-fpm.sock;\n}\n```\n\nThen test and reload:\n\n```bash\nsudo nginx -t && sudo systemctl reload nginx\n```"
            ),
            U("reloaded, now I get 502 only on the upload page, other pages work"),
            A(
                "Then the socket is fine and something on that page kills or stalls the PHP worker. Check the PHP-FPM log (`/var/log/php8.3-fpm.log`) for `child exited on signal` or `execution timed out`. Uploads often hit `upload_max_filesize`/`post_max_size` in the new 8.3 `php.ini` (the old values were not carried over) or nginx's `client_max_body_size`. The new php.ini lives in `/etc/php/8.3/fpm/php.ini`."
            ),
            U("php log says: WARNING: [pool www] child 2211 exited on signal 11 (SIGSEGV)"),
            A(
                "A segfault in a PHP child is almost always an extension built for the old version. List what loads:\n\n```bash\nphp-fpm8.3 -m\nls /etc/php/8.3/fpm/conf.d/\n```\n\nImage uploads usually go through `imagick` or `gd`. If `imagick` comes from PECL rather than the distro package, reinstall it for 8.3: `sudo apt install php8.3-imagick`, then `sudo systemctl restart php8.3-fpm`."
            ),
            U("it was imagick from pecl. installed php8.3-imagick and restarted, uploads work. thanks!!"),
            A(
                "Great. To avoid the same surprise next upgrade: remove the old PHP packages (`sudo apt purge 'php8.1*'`) so nothing half-configured lingers, and keep extensions on distro packages where you can, since they are rebuilt with each PHP release."
            ),
        ],
    ),
    Chat(
        "2026-03-09T08:15",
        "gemma3:4b",
        [
            U("how do I rotate my nginx access logs daily and keep two weeks, compressed?"),
            A(
                "Debian and Ubuntu ship `/etc/logrotate.d/nginx`; adjust it to:\n\n```conf\n/var/log/nginx/*.log {\n    daily\n    rotate 14\n    compress\n    delaycompress\n    missingok\n    notifempty\n    create 0640 www-data adm\n    sharedscripts\n    postrotate\n        [ -s /run/nginx.pid ] && kill -USR1 $(cat /run/nginx.pid)\n    endscript\n}\n```\n\n`kill -USR1` tells nginx to reopen its log files, so it stops writing to the rotated one. `delaycompress` keeps yesterday's file uncompressed in case something still writes to it.\n\nTest without waiting a day: `sudo logrotate -d /etc/logrotate.d/nginx` (dry run), then `sudo logrotate -f /etc/logrotate.d/nginx`."
            ),
        ],
    ),
    Chat(
        "2026-03-23T19:44",
        "llama3.2:3b",
        [
            U(
                "I want to replace my cron job that runs /usr/local/bin/sync-photos every 15 minutes with a systemd timer. How?"
            ),
            A(
                "Two units. `/etc/systemd/system/sync-photos.service`:\n\n```ini\n[Unit]\nDescription=Sync photos to the NAS\n\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/sync-photos\n```\n\nand `/etc/systemd/system/sync-photos.timer`:\n\n```ini\n[Unit]\nDescription=Run sync-photos every 15 minutes\n\n[Timer]\nOnCalendar=*:0/15\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n```\n\nEnable with `sudo systemctl daemon-reload && sudo systemctl enable --now sync-photos.timer`. `systemctl list-timers` shows the next run, and `journalctl -u sync-photos` has every run's output, which cron never kept for you. `Persistent=true` runs a missed job after the machine was off."
            ),
        ],
    ),
    Chat(
        "2026-04-06T12:03",
        "mistral-nemo:12b",
        [
            U(
                "Generate an ssh key and use it for github and my raspberry pi, what type should I use in 2026?"
            ),
            A(
                'Ed25519: short keys, fast, supported everywhere that matters.\n\n```bash\nssh-keygen -t ed25519 -C "sam@laptop"\nssh-copy-id -i ~/.ssh/id_ed25519.pub pi@raspberrypi.local\n```\n\nFor GitHub, paste the contents of `~/.ssh/id_ed25519.pub` under Settings, SSH and GPG keys. Use a passphrase and let the agent remember it: `ssh-add ~/.ssh/id_ed25519`.'
            ),
            U("should I enable agent forwarding to the pi so I can git pull there?"),
            A(
                "Only for hosts you fully trust: anyone with root on the Pi can use your forwarded agent while you are connected. Safer options: a separate deploy key on the Pi with read-only access to that repository, or `ProxyJump` if you only need to hop through it. If you do forward, limit it to that host in `~/.ssh/config` (`Host raspberrypi.local` / `ForwardAgent yes`), never `Host *`."
            ),
        ],
    ),
    Chat(
        "2026-05-27T07:50",
        "gemma3:4b",
        [
            U("Server disk is 100% full, / partition. what do I check first?"),
            T(
                "run_shell_command",
                {"command": "sudo du -xh / --max-depth=2 | sort -h | tail -8"},
                "1.1G\t/usr/lib\n2.3G\t/usr\n3.9G\t/var/lib/docker\n11G\t/var/log/journal\n15G\t/var/log\n19G\t/var\n24G\t/",
                "8 lines",
            ),
            A(
                "The systemd journal takes 11 GB. Shrink it now and cap it for the future:\n\n```bash\nsudo journalctl --vacuum-size=500M\n```\n\nThen in `/etc/systemd/journald.conf` set `SystemMaxUse=500M` and `sudo systemctl restart systemd-journald`. Also check for a service that logs in a loop: `journalctl --since today | awk '{print $5}' | sort | uniq -c | sort -n | tail`."
            ),
            U("freed 10G. the noisy one is a crashing container restarting every 2 seconds"),
            A(
                "Then fix or stop that container (`docker update --restart=no NAME` stops the loop while you debug), and run `docker system df` once: old images and stopped containers under `/var/lib/docker` are the next candidates (`docker image prune -a` after checking what it would remove)."
            ),
        ],
    ),
    Chat(
        "2026-06-15T23:12",
        "phi4:14b",
        [
            U(
                "Postgres table of 40 million rows got slow after a big delete. VACUUM didn't give disk space back."
            ),
            A(
                "Plain `VACUUM` marks dead rows as reusable space inside the table but rarely returns it to the OS. To shrink the file:\n\n- `VACUUM FULL big_table;` rewrites the table compactly but takes an exclusive lock for the whole run: no reads or writes.\n- `pg_repack` (an extension) does the same online with only brief locks.\n\nThe slowness is likely bloat plus stale statistics: run `ANALYZE big_table;` right away, it is cheap. Check bloat with `pgstattuple` or by comparing `pg_relation_size` with the row count."
            ),
            U("can't afford downtime, pg_repack it is. anything to watch?"),
            A(
                "It needs free disk roughly equal to the table plus its indexes, because it builds a copy. The table needs a primary key or a unique not-null index. Run it off-peak: it adds write load, and it takes a short exclusive lock at the start and the end, which waits behind long transactions, so check `pg_stat_activity` for idle-in-transaction sessions first."
            ),
        ],
    ),
    Chat(
        "2026-07-30T18:25",
        "llama3.2:3b",
        [
            U("certbot renew failed: Timeout during connect (likely firewall problem) on port 80"),
            A(
                "The HTTP-01 challenge needs Let's Encrypt to reach `http://yourdomain/.well-known/acme-challenge/` on port 80. Check in order:\n\n1. Firewall: `sudo ufw status` should allow 80/tcp (`sudo ufw allow 80/tcp`).\n2. Cloud security group or router port forward for 80.\n3. Something answering on 80: `sudo ss -tlnp | grep ':80'`.\n4. DNS: the A/AAAA records point to this server. A stale AAAA record is a classic: Let's Encrypt prefers IPv6.\n\nThen `sudo certbot renew --dry-run`. If you cannot open port 80 at all, switch to the DNS-01 challenge with your DNS provider's plugin."
            ),
            U("it was the AAAA record pointing to my old VPS. fixed."),
            A(
                "Good catch. `sudo systemctl list-timers | grep certbot` confirms renewals are scheduled, and the dry run should now pass."
            ),
        ],
    ),
    Chat(
        "2026-08-19T20:05",
        "mistral-nemo:12b",
        [
            U(
                "Set up WireGuard so my phone can reach my home network while traveling. Home server is Debian."
            ),
            A(
                "On the server:\n\n```bash\nsudo apt install wireguard\nwg genkey | tee server.key | wg pubkey > server.pub\nwg genkey | tee phone.key | wg pubkey > phone.pub\n```\n\n`/etc/wireguard/wg0.conf`:\n\n```ini\n[Interface]\nAddress = 10.8.0.1/24\nListenPort = 51820\nPrivateKey = <server.key>\nPostUp = iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE\nPostDown = iptables -t nat -D POSTROUTING -o eth0 -j MASQUERADE\n\n[Peer]\nPublicKey = <phone.pub>\nAllowedIPs = 10.8.0.2/32\n```\n\nEnable forwarding (`net.ipv4.ip_forward=1` in `/etc/sysctl.d/99-wg.conf`), forward UDP 51820 on the router, and `sudo systemctl enable --now wg-quick@wg0`. On the phone, create a tunnel with Address 10.8.0.2/32, the phone key, and a peer with the server's public key, Endpoint your.home.ip:51820 and AllowedIPs 192.168.1.0/24 to reach only the home LAN. `qrencode -t ansiutf8 < phone.conf` makes a QR code for the app."
            ),
        ],
    ),
    Chat(
        "2026-10-12T10:48",
        "gemma3:4b",
        [
            U("pi-hole blocks the login page of my bank app. how do I find which domain?"),
            A(
                "Open the Pi-hole admin page, Query Log, and filter by your phone's IP while you retry the login: blocked queries show in red with the list that blocked them. Whitelist the domain with `pihole -w domain.example` (on Pi-hole v6: `pihole allow domain.example`). Banks often use a third-party fraud-detection domain on login; whitelist only that one rather than turning off a whole blocklist."
            ),
        ],
    ),
]
