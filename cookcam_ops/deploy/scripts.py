"""The remote side: how each step's command is wrapped, and the built-ins' host-side scripts.

Every command runs under coreutils `timeout` in its own process group, with its pid recorded in
`<ops>/step.pid`, so a run that lost its connection can find and stop (or wait for) what it left
running. The node scripts print one JSON line and nothing secret (names, codes, counts).
"""

from __future__ import annotations

from cookcam_ops.remote.protocol import q

KILL_GRACE_S = 5
LOCAL_SLACK_S = 30.0  # the local timeout is the remote one plus this, as a last resort

# Start argv[1] (a built dist/index.js) with NODE_ENV=production on a spare port in the current
# directory (the app's, for its .env), wait for argv[4] on its output and a 200 from argv[3],
# then stop it. argv[2] is the deadline in ms; an answer other than 200 for 5 s fails at once.
TEST_BUILD_JS = r"""
const {spawn}=require('child_process'),net=require('net');
const [script,ms,hpath,expect]=process.argv.slice(1);const deadline=Date.now()+Number(ms);
let child=null,out='',validated=false,done=false,port=0,last='',answered=0;
const tail=()=>out.trim().split('\n').slice(-3).join(' | ').slice(-400);
function finish(ok,detail){if(done)return;done=true;
const report=()=>{console.log(JSON.stringify({ok,validated,port,detail}));process.exit(0)};
if(child&&child.exitCode===null&&child.signalCode===null){child.once('exit',report);
child.kill('SIGTERM');setTimeout(()=>{try{child.kill('SIGKILL')}catch(e){}},10000).unref()}
else report()}
for(const s of ['SIGHUP','SIGTERM','SIGINT'])process.on(s,()=>finish(false,'interrupted'));
function poll(){if(done)return;
if(Date.now()>deadline)return finish(false,validated?`${hpath} did not answer 200 in time (${last})`
:`no '${expect}' line in time; output: ${tail()}`);
if(!validated)return setTimeout(poll,200);
fetch(`http://127.0.0.1:${port}${hpath}`,{signal:AbortSignal.timeout(2000)}).then(r=>{
if(r.status===200)finish(true,`'${expect}', ${hpath} answered 200 on spare port ${port}`);
else{last=`HTTP ${r.status}`;answered=answered||Date.now();
if(Date.now()-answered>5000)return finish(false,`${hpath} answered ${last} for 5s`);
setTimeout(poll,250)}}).catch(e=>{last=String((e.cause&&e.cause.code)||e.name);
setTimeout(poll,250)})}
const srv=net.createServer();srv.listen(0,'127.0.0.1',()=>{port=srv.address().port;srv.close(()=>{
child=spawn(process.execPath,[script],{env:{...process.env,NODE_ENV:'production',PORT:String(port)},
stdio:['ignore','pipe','pipe']});
const take=d=>{out=(out+d).slice(-4000);if(!validated&&out.includes(expect))validated=true};
child.stdout.on('data',take);child.stderr.on('data',take);
child.on('exit',(c,s)=>finish(false,
`the build exited (${s||'code '+c}) before it was healthy: ${tail()}`));
poll()})});
""".strip()

# GET argv[1] until `argv[5]` 200s in a row (argv[2] retries, argv[3] ms apart); when argv[4]
# is a SHA and the body names a commit, it must be that one.
HEALTH_LOOP_JS = r"""
const [url,retries,delay,sha,need]=process.argv.slice(1);let attempt=0,row=0,last='';
const end=(ok,detail)=>console.log(JSON.stringify({ok,attempts:attempt,detail}));
function next(){row=0;
if(attempt>Number(retries))return end(false,`${last} after ${attempt} attempt(s)`);
setTimeout(once,Number(delay))}
function once(){attempt++;fetch(url,{signal:AbortSignal.timeout(5000)}).then(async r=>{
const b=(await r.text()).slice(0,2000);let commit=null;
try{const j=JSON.parse(b);if(j&&typeof j.commit==='string')commit=j.commit}catch(e){}
if(r.status!==200){last=`HTTP ${r.status}`;return next()}
if(sha&&commit&&commit!=='unknown'&&!(commit.startsWith(sha)||sha.startsWith(commit))){
last=`HTTP 200 but it serves commit ${commit.slice(0,10)}, not ${sha.slice(0,10)}`;return next()}
row++;if(row>=Number(need))return end(true,`${row} x HTTP 200 (${attempt} requests)`+
(commit?`, commit ${commit.slice(0,10)}`:''));setTimeout(once,100)})
.catch(e=>{last=String((e.cause&&e.cause.code)||e.name||e);next()})}
once();
""".strip()

NOW_MS = "node -e 'console.log(Date.now())'"
RELOAD_RETRIES = 3


def wrap(command: str, *, cwd: str, ops_path: str, run_id: str, timeout: float,
         before: str = "") -> str:
    """command as sent: in cwd, under `timeout` (own process group), its pid in step.pid.

    before: shell run first in cwd (the free-space check), which may stop the step.
    """
    pid_file = f"{ops_path}/step.pid"
    return (f"mkdir -p {q(ops_path)} && cd {q(cwd)} && {before + '; ' if before else ''}"
            f"printf '%s %s\\n' \"$$\" {q(run_id)} > {q(pid_file)} && "
            f"exec timeout -k {KILL_GRACE_S} {max(1, round(timeout))} sh -c {q(command)}")


def reap(ops_path: str, run_id: str, wait_s: float) -> str:
    """Stop what this run left running on the host (after a lost connection).

    Waits up to wait_s for it to end by itself first (0 for steps that are safe to kill, the
    step's timeout for those at or after the switch, which must finish what they started).
    """
    pid_file = q(f"{ops_path}/step.pid")
    rounds = max(0, round(wait_s * 2))
    return (f"set -- $(cat {pid_file} 2>/dev/null); [ \"${{2:-}}\" = {q(run_id)} ] || exit 0; "
            f"p=$1; i=0; while [ $i -lt {rounds} ] && kill -s 0 -- -$p 2>/dev/null; "
            "do sleep 0.5; i=$((i+1)); done; "
            "kill -s TERM -- -$p 2>/dev/null; sleep 1; kill -s KILL -- -$p 2>/dev/null; "
            f"rm -f {pid_file}; exit 0")


def test_build(build_path: str, timeout: float, health_path: str, expect: str,
               cwd: str | None = None) -> str:
    """Start the build aside on a spare port and check it.

    In the app directory (in-place: the build reads the app's .env), or in cwd (releases: the
    release's own .env).
    """
    deadline_ms = max(1000, round((timeout - 12) * 1000))
    into = f"cd {q(cwd)} && " if cwd else ""
    return (f"{into}node -e {q(TEST_BUILD_JS)} {q(build_path + '/dist/index.js')} "
            f"{deadline_ms} {q(health_path)} {q(expect)}")


def reload(app_name: str, exec_mode: str | None, ops_path: str,
           current: str | None = None, overlap: bool = False) -> str:
    """`pm2 reload` (cluster) or `pm2 restart` (fork), printing the host time it started.

    current (releases): also print where the `current` link resolves (`@@current=PATH`).
    overlap (cluster mode): every worker replaced at once instead (handover.OVERLAP_JS).
    """
    from cookcam_ops.deploy.handover import overlap as overlap_command

    verb = "restart" if exec_mode == "fork_mode" else "reload"
    log = q(f"{ops_path}/pm2-{verb}.log")
    where = f"echo \"@@current=$(readlink -f {q(current)})\"; " if current else ""
    run = (f"( {overlap_command(app_name, 60.0)} )" if overlap and verb == "reload"
           else f"pm2 {verb} {q(app_name)} --update-env")
    # PM2 refuses a reload while it is itself restarting a crashed worker ("process already
    # started"): a rollback right after a crash loop meets that; it is retried a few times.
    return (f"t0=$({NOW_MS}); n=0; while :; do {run} > {log} 2>&1; rc=$?; "
            f"[ $rc -ne 0 ] && [ $n -lt {RELOAD_RETRIES} ] && "
            f"grep -q 'process already started' {log} || break; n=$((n+1)); sleep 2; done; "
            f"tail -n 3 {log}; {where}echo \"@@reload rc=$rc t0=$t0\"; exit $rc")


def health(url: str, retries: int, delay: float, sha: str | None, need: int = 2) -> str:
    """Poll the health URL from the host itself."""
    return (f"node -e {q(HEALTH_LOOP_JS)} {q(url)} {int(retries)} {round(delay * 1000)} "
            f"{q(sha or '')} {int(need)}")


def append_line(path: str, line: str) -> str:
    """Append one line with a single small write (atomic for O_APPEND writes this size)."""
    parent = path.rsplit("/", 1)[0]
    return f"mkdir -p {q(parent)} && printf '%s\\n' {q(line)} >> {q(path)}"
