"""Moving a running PM2 app to another directory with no failed request: the handover.

PM2 keeps the cwd and script path a process was started with, so `pm2 reload` cannot move an
app (a reload re-uses them). The handover starts the app again, from the new directory, under a
temporary name in the same PM2 daemon: the daemon is the cluster primary of every app it runs,
so both apps share the listening socket and the kernel keeps accepting. Once every new worker
said `ready` (wait_ready apps; else is online for a moment), the old app is deleted (PM2 stops
its workers gracefully), the app is started under its own name from the new directory, and the
temporary one is deleted. A failure before the old app is deleted changes nothing.

Used by migrate-to-releases (checkout -> APP/current) and by `reload` under strategy: releases
when PM2 turns out to run workers outside the new release (an app started from a resolved path).
The script prints one JSON line: {ok, detail, stage}; names and counts only.
"""

from __future__ import annotations

from cookcam_ops.layout.releases import HANDOVER_SUFFIX
from cookcam_ops.remote.protocol import q

STABLE_WINDOW_MS = 1000  # overlap: the new workers must look the same for this long

# argv: pm2 package dir, app name, directory (as PM2 should keep it), timeout ms.
HANDOVER_JS = r"""
const [pkg,name,dir,ms]=process.argv.slice(1);const path=require('path'),fs=require('fs');
const pm2=require(pkg);const tmp=name+'__SUFFIX__';const deadline=Date.now()+Number(ms);
let stage='load';const out=(ok,detail)=>{console.log(JSON.stringify({ok,stage,detail}));
try{pm2.disconnect()}catch(e){}process.exit(0)};
const P=f=>new Promise((res,rej)=>f((e,v)=>e?rej(e):res(v)));
const msg=e=>String((e&&(e.message||e.msg))||e).split('\n')[0].slice(0,200);
function loadApp(){const real=fs.realpathSync(dir);
const f=['ecosystem.config.js','ecosystem.config.cjs','ecosystem.json'].map(n=>path.join(real,n))
.find(x=>fs.existsSync(x));if(!f)throw new Error('no ecosystem file in '+dir);
const m=require(f);let apps=(m&&(m.apps||(m.default&&m.default.apps)))||[];
if(!Array.isArray(apps))apps=[apps];const a=apps.find(x=>x&&x.name===name);
if(!a)throw new Error('no app '+name+' in '+path.basename(f));
const swap=p=>p===real?dir:(p.startsWith(real+'/')?dir+p.slice(real.length):p);
const base=path.resolve(real,a.cwd||'.');
return {...a,cwd:swap(base),script:swap(path.resolve(base,a.script))}}
const ready=new Set();
async function list(n){return (await P(cb=>pm2.list(cb))).filter(p=>p.name===n)}
async function startAs(app,n){const started=await P(cb=>pm2.start({...app,name:n},cb));
const ids=(started||[]).map(p=>(p.pm2_env||p).pm_id);
if(!ids.length)throw new Error('pm2 started nothing');
const since=Date.now();while(true){const ps=await list(n);
const bad=ps.find(p=>['errored','stopped'].includes(p.pm2_env.status)||p.pm2_env.restart_time>0);
if(bad)throw new Error(n+' worker '+bad.pm_id+' did not stay up ('+bad.pm2_env.status+')');
const up=ps.filter(p=>p.pm2_env.status==='online');
const done=app.wait_ready?ids.every(i=>ready.has(n+'#'+i))
:(up.length===ids.length&&Date.now()-since>1500);
if(done)return ids.length;if(Date.now()>deadline)throw new Error(n+': workers not ready in time');
await new Promise(r=>setTimeout(r,100))}}
async function del(n){if((await list(n)).length)await P(cb=>pm2.delete(n,cb))}
async function main(){const app=loadApp();stage='connect';await P(cb=>pm2.connect(cb));
const bus=await P(cb=>pm2.launchBus(cb));
bus.on('process:msg',p=>{if(p&&p.raw==='ready'&&p.process)
ready.add(p.process.name+'#'+p.process.pm_id)});
stage='clean';await del(tmp);
stage='start-temporary';try{await startAs(app,tmp)}catch(e){stage='start-temporary';
try{await del(tmp)}catch(x){}return out(false,msg(e)+'; the app was left as it was')}
stage='delete-old';await del(name);
stage='start';let n;try{n=await startAs(app,name)}catch(e){return out(false,msg(e)+
'; '+tmp+' still serves from '+dir)}
stage='delete-temporary';await del(tmp);out(true,name+': '+n+' worker(s) started from '+dir+
' by a handover (the old ones stopped gracefully after the new ones were ready)')}
main().catch(e=>out(false,msg(e)));
""".strip().replace("__SUFFIX__", HANDOVER_SUFFIX)

# argv: pm2 package dir, app name, timeout ms. Starts as many new workers as the app has (PM2
# duplicates them from the app's own settings, so they start from its cwd: APP/current), waits
# until each said `ready` (or is online for a moment without wait_ready), then deletes the old
# workers, which stop gracefully, all at once, and watches the new ones for a second (the same
# on every look, through PM2's API on the host: no round trips), printing them as
# `@@procs=[...]` (names, ids, pids, status, start time, restarts, resolved cwd; never env).
# A new worker that does not come up is deleted and the old ones are left serving.
# Exit 0 done, 1 not (one line on stdout says why).
OVERLAP_JS = r"""
const [pkg,name,ms]=process.argv.slice(1);const pm2=require(pkg);
const deadline=Date.now()+Number(ms);
const P=f=>new Promise((res,rej)=>f((e,v)=>e?rej(e):res(v)));const ready=new Set();
const out=(ok,detail)=>{console.log(detail);try{pm2.disconnect()}catch(e){}process.exit(ok?0:1)};
const list=async()=>(await P(cb=>pm2.list(cb))).filter(p=>p.name===name);
const drop=ids=>Promise.all(ids.map(i=>P(cb=>pm2.delete(i,cb))));
async function main(){await P(cb=>pm2.connect(cb));const bus=await P(cb=>pm2.launchBus(cb));
bus.on('process:msg',p=>{if(p&&p.raw==='ready'&&p.process)ready.add(p.process.pm_id)});
const old=await list();const oldIds=old.map(p=>p.pm_id);if(!old.length)return out(false,'no '+name);
if(old.some(p=>p.pm2_env.exec_mode!=='cluster_mode'))
return out(false,name+' is not in cluster mode');
const waitReady=!!old[0].pm2_env.wait_ready;await P(cb=>pm2.scale(name,old.length*2,cb));
const fresh=(await list()).filter(p=>!oldIds.includes(p.pm_id)).map(p=>p.pm_id);
const t1=Date.now();
while(true){const ps=(await list()).filter(p=>fresh.includes(p.pm_id));
const bad=ps.find(p=>['errored','stopped'].includes(p.pm2_env.status)||p.pm2_env.restart_time>0);
if(bad){await drop(fresh);
return out(false,'new worker '+bad.pm_id+' did not stay up; old ones kept')}
if(waitReady?fresh.every(i=>ready.has(i))
:ps.every(p=>p.pm2_env.status==='online')&&Date.now()-t1>1500)break;
if(Date.now()>deadline){await drop(fresh);
return out(false,'new workers not ready in time; old ones kept')}
await new Promise(r=>setTimeout(r,50))}
await drop(oldIds);const fs=require('fs');let seen=null;const t2=Date.now();
while(Date.now()-t2<__WINDOW__){const ps=(await list());
const key=JSON.stringify(ps.map(p=>[p.pm_id,p.pid,p.pm2_env.status,p.pm2_env.restart_time]));
if(seen!==null&&key!==seen)return out(false,'workers changed after the old ones stopped '+
'(a crash loop?)');seen=key;await new Promise(r=>setTimeout(r,100))}
const cwd=pid=>{try{return fs.readlinkSync('/proc/'+pid+'/cwd')}catch(e){return null}};
console.log('@@procs='+JSON.stringify((await list()).map(p=>({name:p.name,pm_id:p.pm_id,pid:p.pid,
status:p.pm2_env.status,pm_uptime:p.pm2_env.pm_uptime,restart_time:p.pm2_env.restart_time,
cwd:cwd(p.pid)}))));
out(true,fresh.length+' new worker(s) ready, then '+oldIds.length+' old one(s) stopped')}
main().catch(e=>out(false,String((e&&e.message)||e).split('\n')[0].slice(0,200)));
""".strip().replace("__WINDOW__", str(STABLE_WINDOW_MS))

# The pm2 package directory from the pm2 on PATH (bin/pm2 -> <pkg>/bin/pm2).
PM2_PACKAGE = ('p=$(command -v pm2) && p=$(readlink -f "$p") && '
               'pkg=$(dirname "$(dirname "$p")") && [ -f "$pkg/package.json" ]')


def overlap(app_name: str, timeout: float) -> str:
    """Shell: replace every worker at once (new ones beside the old, then the old retired)."""
    ms = max(5000, round((timeout - 5) * 1000))
    return (f"{{ {PM2_PACKAGE} || {{ echo 'pm2 package not found from PATH'; false; }}; }} && "
            f"node -e {q(OVERLAP_JS)} \"$pkg\" {q(app_name)} {ms}")


# After a handover PM2's process list names the new directory; where the host keeps a saved list
# (`pm2 save`, restored at boot by `pm2 resurrect`), save it again, or a reboot would start the
# app from the old one.
RESAVE = ('case "$out" in *\'"ok":true\'*) [ ! -f "${PM2_HOME:-$HOME/.pm2}/dump.pm2" ] || '
          "pm2 save --force >/dev/null 2>&1 || true;; esac")


def handover(app_name: str, directory: str, timeout: float) -> str:
    """The shell command that moves app_name to run from directory (prints one JSON line)."""
    ms = max(5000, round((timeout - 5) * 1000))
    return (f"{PM2_PACKAGE} || {{ echo '{{\"ok\":false,\"stage\":\"load\",\"detail\":"
            f"\"pm2 package not found from PATH\"}}'; exit 0; }}; "
            f"out=$(node -e {q(HANDOVER_JS)} \"$pkg\" {q(app_name)} {q(directory)} {ms}); "
            f"echo \"$out\"; {RESAVE}")
