/**
 * nginx in front of test broker nodes, with the directives of deploy/nginx/mqtt-im.conf: an `http`
 * block for the HTTP API and MQTT over WebSocket (`/mqtt`), a `stream` block for MQTT over TCP,
 * round robin with passive health (`max_fails`/`fail_timeout`) on both upstreams.
 *
 * The binary is `NGINX_BIN` (default Debian's /usr/sbin/nginx); the stream module is loaded from
 * `NGINX_STREAM_MODULE` (default /usr/lib/nginx/modules/ngx_stream_module.so, the package
 * libnginx-mod-stream) when that file exists, else it must be built in. nginx runs in the
 * foreground (`daemon off;`, a master and one worker) with its config, pid file, logs and temp
 * paths in a fresh temp dir, listening on 127.0.0.1 on two ports free at run time (another pair is
 * tried should nginx lose one to someone else meanwhile); it is ready once both ports accept
 * connections. `stop()` shuts it down (SIGTERM: the master takes its worker with it; SIGKILL of
 * the master alone would leave the worker running, holding the ports) and removes the dir; a test
 * process that ends without `stop()` does the same on its way out.
 */
import { spawn } from 'node:child_process'
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './broker.js'
import { cleanUpOnExit } from './exit-guard.js'

export interface NginxOptions {
  /** the nodes' HTTP listeners, `127.0.0.1:port` */
  httpUpstreams: string[]
  /** the nodes' MQTT/TCP listeners, `127.0.0.1:port` */
  mqttUpstreams: string[]
}

export interface Nginx {
  /** `http://127.0.0.1:{port}`: the HTTP API through nginx */
  httpUrl: string
  /** `mqtt://127.0.0.1:{port}`: MQTT over TCP through nginx */
  mqttUrl: string
  /** `ws://127.0.0.1:{port}/mqtt`: MQTT over WebSocket through nginx */
  wsUrl: string
  /** the rendered nginx.conf */
  config: string
  /** nginx's error log, then its stream and http access logs (each connection's `$upstream_addr`) */
  log (): string
  stop (): Promise<void>
}

const START_ATTEMPTS = 5
const START_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 5000

export function nginxBinary (): string {
  const path = process.env.NGINX_BIN || '/usr/sbin/nginx'
  try {
    accessSync(path, constants.X_OK)
    return path
  } catch {
    throw new Error(`nginx is not installed at ${path} (apt-get install nginx-light libnginx-mod-stream, or set NGINX_BIN)`)
  }
}

function streamModule (): string | undefined {
  const path = process.env.NGINX_STREAM_MODULE || '/usr/lib/nginx/modules/ngx_stream_module.so'
  return existsSync(path) ? path : undefined
}

export interface ConfigParts extends NginxOptions {
  dir: string
  httpPort: number
  mqttPort: number
  /** `load_module` path, or undefined when the stream module is built in */
  streamModule: string | undefined
  /** the master runs as root: its worker must too (see below) */
  asRoot: boolean
}

/** nginx.conf for the tests: deploy/nginx/mqtt-im.conf's directives, on 127.0.0.1 and in `dir`. */
export function renderNginxConfig (o: ConfigParts): string {
  const servers = (upstreams: string[], indent: string): string => upstreams.map((address) => `${indent}server ${address} max_fails=1 fail_timeout=10s;`).join('\n')
  return `# rendered by test/helpers/nginx.ts from the directives of deploy/nginx/mqtt-im.conf
${o.streamModule === undefined ? '' : `load_module ${o.streamModule};`}
daemon off;
${o.asRoot
    // A root master starts its worker as "nobody", which could not write the proxy and body temp
    // files into this root-owned 0700 dir: a response too big for the proxy buffers (a page of
    // history) would come back cut short.
    ? 'user root;'
    : '# not root: the worker runs as this user'}
worker_processes 1;
pid ${o.dir}/nginx.pid;
lock_file ${o.dir}/nginx.lock;
error_log ${o.dir}/error.log warn;

events {
    worker_connections 1024;
}

http {
    log_format upstream '$remote_addr "$request" $status $upstream_addr';
    access_log ${o.dir}/http.log upstream;
    client_body_temp_path ${o.dir}/client_body;
    proxy_temp_path ${o.dir}/proxy;
    fastcgi_temp_path ${o.dir}/fastcgi;
    uwsgi_temp_path ${o.dir}/uwsgi;
    scgi_temp_path ${o.dir}/scgi;

    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      '';
    }

    upstream mqtt_im_http {
${servers(o.httpUpstreams, '        ')}
        keepalive 32;
    }

    server {
        listen 127.0.0.1:${o.httpPort};

        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_connect_timeout 2s;
        proxy_next_upstream error timeout;

        location = /mqtt {
            proxy_pass http://mqtt_im_http;
            proxy_read_timeout 300s;
            proxy_send_timeout 300s;
            proxy_buffering off;
        }

        location / {
            proxy_pass http://mqtt_im_http;
        }
    }
}

stream {
    # client, node, status, seconds, bytes to/from the client, bytes to/from the node
    log_format upstream '$remote_addr $upstream_addr $status $session_time $bytes_sent/$bytes_received $upstream_bytes_sent/$upstream_bytes_received';
    access_log ${o.dir}/stream.log upstream;

    upstream mqtt_im_mqtt {
${servers(o.mqttUpstreams, '        ')}
    }

    server {
        listen 127.0.0.1:${o.mqttPort};
        proxy_pass mqtt_im_mqtt;
        proxy_connect_timeout 2s;
        proxy_next_upstream on;
        proxy_timeout 300s;
    }
}
`
}

export async function startNginx (options: NginxOptions): Promise<Nginx> {
  if (options.httpUpstreams.length === 0 || options.mqttUpstreams.length === 0) throw new Error('nginx needs at least one HTTP and one MQTT upstream')
  const binary = nginxBinary()
  const failures: string[] = []
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const started = await startOnce(binary, options, await freePort(), await freePort())
    if ('nginx' in started) return started.nginx
    failures.push(started.failure)
  }
  throw new Error(`nginx (${binary}) did not start in ${START_ATTEMPTS} attempts:\n${failures.join('\n---\n')}`)
}

async function startOnce (binary: string, options: NginxOptions, httpPort: number, mqttPort: number): Promise<{ nginx: Nginx } | { failure: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-im-nginx-'))
  const config = renderNginxConfig({ ...options, dir, httpPort, mqttPort, streamModule: streamModule(), asRoot: process.getuid?.() === 0 })
  const configFile = join(dir, 'nginx.conf')
  writeFileSync(configFile, config)
  // -e: the error log before the config's error_log applies (Debian's build default is stderr)
  const child = spawn(binary, ['-p', dir, '-c', configFile, '-e', join(dir, 'error.log')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-20_000) }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  let spawnError: Error | undefined
  child.once('error', (err) => { spawnError = err })
  const exited = new Promise<void>((resolve) => { child.once('close', () => { resolve() }) })
  const running = (): boolean => spawnError === undefined && child.exitCode === null && child.signalCode === null

  const read = (name: string): string => { try { return readFileSync(join(dir, name), 'utf8') } catch { return '' } }
  const log = (): string => [`--- error.log ---\n${read('error.log')}${output}`, `--- stream.log ---\n${read('stream.log')}`, `--- http.log ---\n${read('http.log')}`].join('\n')

  // SIGTERM, not SIGKILL: nginx's fast shutdown stops the worker too (it would outlive a killed master)
  const forget = cleanUpOnExit(() => {
    if (running()) child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  })

  let stopped: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopped ??= (async () => {
      forget()
      if (spawnError === undefined) {
        if (running()) child.kill('SIGTERM')
        const timer = setTimeout(() => { child.kill('SIGKILL') }, STOP_TIMEOUT_MS)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    })()
    await stopped
  }

  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (!running() || Date.now() > deadline) {
      const why = spawnError?.message ?? (running() ? `did not accept connections on ${httpPort} and ${mqttPort} in ${START_TIMEOUT_MS} ms` : `exited (${child.exitCode ?? child.signalCode})`)
      const text = log()
      await stop()
      return { failure: `ports ${httpPort}, ${mqttPort}: ${why}\n${text.trim()}` }
    }
    // the pid file comes after the listening sockets: ports that accept before it may be someone else's
    if (existsSync(join(dir, 'nginx.pid')) && await accepts(httpPort) && await accepts(mqttPort)) break
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return {
    nginx: {
      httpUrl: `http://127.0.0.1:${httpPort}`,
      mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
      wsUrl: `ws://127.0.0.1:${httpPort}/mqtt`,
      config,
      log,
      stop
    }
  }
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { socket.destroy(); resolve(false) })
  })
}
