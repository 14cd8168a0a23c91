"""Long sessions: the kind that spans an evening."""

from .dsl import A, Chat, T, U

CHATS = [
    Chat(
        "2026-10-17T19:05",
        "qwen2.5-coder:7b",
        context_size=16384,
        turns=[
            U(
                "I want to move my home server from docker run commands to docker compose. It runs Jellyfin, Nextcloud with MariaDB, and Vaultwarden. Where do I start?"
            ),
            A(
                "Start by capturing what runs today, so nothing is lost in translation. For each container, `docker inspect NAME` shows its image, volumes, ports, environment and restart policy. Write those down (or save the JSON), then translate one service at a time into a `compose.yaml`, starting with the least critical one: Jellyfin."
            ),
            T(
                "run_shell_command",
                {"command": "docker ps --format '{{.Names}}\\t{{.Image}}\\t{{.Ports}}'"},
                "jellyfin\tjellyfin/jellyfin:10.9\t0.0.0.0:8096->8096/tcp\nnextcloud\tnextcloud:29-apache\t0.0.0.0:8080->80/tcp\nmariadb\tmariadb:11\t3306/tcp\nvaultwarden\tvaultwarden/server:1.30.5\t0.0.0.0:8222->80/tcp",
                "4 containers",
            ),
            U("here's docker ps. jellyfin uses /srv/media read-only and /srv/jellyfin/config"),
            A(
                'Jellyfin in compose:\n\n```yaml\nservices:\n  jellyfin:\n    image: jellyfin/jellyfin:10.9\n    container_name: jellyfin\n    restart: unless-stopped\n    ports:\n      - "8096:8096"\n    volumes:\n      - /srv/jellyfin/config:/config\n      - /srv/jellyfin/cache:/cache\n      - /srv/media:/media:ro\n```\n\nStop and remove the old container (`docker stop jellyfin && docker rm jellyfin`; the data stays in the bind-mounted folders) and run `docker compose up -d jellyfin`. Check that your libraries and watch history are still there before moving on.'
            ),
            U(
                "works, history is there. Now nextcloud + mariadb. The DB password is currently in the docker run command line..."
            ),
            A(
                'Move secrets into an `.env` file next to `compose.yaml` (chmod 600, and keep it out of git):\n\n```env\nMYSQL_ROOT_PASSWORD=change-me\nMYSQL_PASSWORD=change-me-too\n```\n\n```yaml\n  mariadb:\n    image: mariadb:11\n    restart: unless-stopped\n    command: --transaction-isolation=READ-COMMITTED --log-bin=binlog --binlog-format=ROW\n    volumes:\n      - /srv/nextcloud/db:/var/lib/mysql\n    environment:\n      MYSQL_ROOT_PASSWORD: ${MYSQL_ROOT_PASSWORD}\n      MYSQL_PASSWORD: ${MYSQL_PASSWORD}\n      MYSQL_DATABASE: nextcloud\n      MYSQL_USER: nextcloud\n\n  nextcloud:\n    image: nextcloud:29-apache\n    restart: unless-stopped\n    ports:\n      - "8080:80"\n    depends_on:\n      - mariadb\n    volumes:\n      - /srv/nextcloud/html:/var/www/html\n    environment:\n      MYSQL_HOST: mariadb\n      MYSQL_DATABASE: nextcloud\n      MYSQL_USER: nextcloud\n      MYSQL_PASSWORD: ${MYSQL_PASSWORD}\n```\n\nUse the same volume paths as today. Important: the new containers join the compose project\'s network, so the DB host name becomes `mariadb` (the service name). Check `dbhost` in `/srv/nextcloud/html/config/config.php`.'
            ),
            U("config.php says 'dbhost' => '172.17.0.3'. change it to mariadb?"),
            A(
                "Yes: `'dbhost' => 'mariadb',`. The old value was the container's IP on the default bridge network, which changes whenever containers restart: it was only working by luck. Back up first: `cp config.php config.php.bak`, and dump the database before the switch:\n\n```bash\ndocker exec mariadb mariadb-dump -u root -p\"$MYSQL_ROOT_PASSWORD\" --single-transaction nextcloud > ~/nextcloud-$(date +%F).sql\n```"
            ),
            U("dump done (240MB). started the new stack, nextcloud says 'Internal Server Error'"),
            T(
                "run_shell_command",
                {"command": "docker compose logs --tail 20 nextcloud"},
                "nextcloud  | Doctrine\\DBAL\\Exception: Failed to connect to the database: An exception occurred in the driver: SQLSTATE[HY000] [1045] Access denied for user 'nextcloud'@'172.19.0.3' (using password: YES)",
                "20 lines",
            ),
            A(
                "Access denied from 172.19.0.3: the database user exists but the password in `config.php` (`dbpassword`) is not the one the user has. The `MYSQL_PASSWORD` variable only takes effect when the data folder is empty; your existing database kept its old user and password. Either put the old password into `.env` and `config.php`, or change the user's password inside the DB:\n\n```bash\ndocker compose exec mariadb mariadb -u root -p -e \\\n  \"ALTER USER 'nextcloud'@'%' IDENTIFIED BY 'the-new-password'; FLUSH PRIVILEGES;\"\n```\n\nand make `dbpassword` in config.php match."
            ),
            U("the user was 'nextcloud'@'172.17.%' so it didn't match the new network at all"),
            A(
                "That explains it: the grant was tied to the old bridge subnet. Create the user for any host inside the private compose network and drop the old one:\n\n```sql\nCREATE USER 'nextcloud'@'%' IDENTIFIED BY 'the-password';\nGRANT ALL PRIVILEGES ON nextcloud.* TO 'nextcloud'@'%';\nDROP USER 'nextcloud'@'172.17.%';\nFLUSH PRIVILEGES;\n```\n\n'%' is fine here because MariaDB isn't published on any host port; only containers on the compose network can reach it."
            ),
            U(
                "Nextcloud is back!! files all there. Vaultwarden next, and I want it behind HTTPS, it refuses to work over plain http from my phone"
            ),
            A(
                'Vaultwarden needs HTTPS because browsers only expose the Web Crypto API on secure origins. Put Caddy in front: it gets and renews certificates by itself.\n\n```yaml\n  vaultwarden:\n    image: vaultwarden/server:1.30.5\n    restart: unless-stopped\n    volumes:\n      - /srv/vaultwarden:/data\n    environment:\n      DOMAIN: https://vault.example.net\n      SIGNUPS_ALLOWED: "false"\n\n  caddy:\n    image: caddy:2\n    restart: unless-stopped\n    ports:\n      - "80:80"\n      - "443:443"\n    volumes:\n      - ./Caddyfile:/etc/caddy/Caddyfile\n      - caddy_data:/data\n\nvolumes:\n  caddy_data:\n```\n\n`Caddyfile`:\n\n```\nvault.example.net {\n    reverse_proxy vaultwarden:80\n}\n```\n\nNote that vaultwarden no longer publishes 8222: only Caddy is reachable from outside.'
            ),
            U("I don't want vaultwarden exposed to the internet at all, only on my LAN and over wireguard"),
            A(
                "Then use the DNS challenge so Caddy can get a real certificate without any inbound port: build Caddy with your DNS provider's module (e.g. `caddy-dns/cloudflare`), and in the Caddyfile add `tls { dns cloudflare {env.CF_API_TOKEN} }`. Point `vault.example.net` in your LAN's DNS (Pi-hole local DNS records work) to the server's LAN IP, and don't forward 80/443 on the router. Over WireGuard your phone uses the Pi-hole as DNS, so the same name resolves there too."
            ),
            U("ok all three are on compose now. how do I update everything safely later?"),
            A(
                "Pin versions in `compose.yaml` (as you have) and update deliberately:\n\n1. Read the release notes of the new versions, especially Nextcloud: it must be upgraded one major version at a time (29 to 30 to 31).\n2. Back up first: the MariaDB dump, `/srv/nextcloud/html/config`, `/srv/vaultwarden` (its `db.sqlite3` with `sqlite3 db.sqlite3 \".backup backup.sqlite3\"`).\n3. Change the tag, then `docker compose pull && docker compose up -d`.\n4. Check the logs: `docker compose logs -f --tail 50`.\n5. `docker image prune` after a few days once you're sure you won't roll back.\n\nCommit `compose.yaml` and the `Caddyfile` to a private git repository (not `.env`): then the whole setup is reproducible on a new machine."
            ),
            U("brilliant, thank you. writing this all down"),
            A(
                "Enjoy the tidier server. One last habit worth keeping: test restoring a backup once, for example the Vaultwarden database into a scratch container. A backup you have never restored is only a hope."
            ),
        ],
    ),
]
