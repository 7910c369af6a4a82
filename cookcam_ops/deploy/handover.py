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

from cookcam_ops.deploy.releases import HANDOVER_SUFFIX
from cookcam_ops.remote.protocol import q

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

# The pm2 package directory from the pm2 on PATH (bin/pm2 -> <pkg>/bin/pm2).
PM2_PACKAGE = ('p=$(command -v pm2) && p=$(readlink -f "$p") && '
               'pkg=$(dirname "$(dirname "$p")") && [ -f "$pkg/package.json" ]')


def handover(app_name: str, directory: str, timeout: float) -> str:
    """The shell command that moves app_name to run from directory (prints one JSON line)."""
    ms = max(5000, round((timeout - 5) * 1000))
    return (f"{PM2_PACKAGE} || {{ echo '{{\"ok\":false,\"stage\":\"load\",\"detail\":"
            f"\"pm2 package not found from PATH\"}}'; exit 0; }}; "
            f"node -e {q(HANDOVER_JS)} \"$pkg\" {q(app_name)} {q(directory)} {ms}")
