import Hummingbird
import NIOCore

/// The planner's page: open incidents by priority, work orders stuck in the outbox,
/// orphaned cameras. Static HTML that reads the API with the key the user enters.
enum Dashboard {
    static func response() -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Millwright – defects to work orders</title>
<style>
 body{font:14px system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2230}
 header{background:#1d2230;color:#fff;padding:10px 18px;display:flex;gap:16px;align-items:center}
 header h1{font-size:17px;margin:0} header input{padding:4px 8px;width:260px}
 main{padding:14px 18px;display:grid;gap:14px}
 .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
 .card{background:#fff;border-radius:6px;padding:10px 12px;box-shadow:0 1px 2px #0002}
 .card b{display:block;font-size:24px}
 section{background:#fff;border-radius:6px;padding:10px 12px;box-shadow:0 1px 2px #0002}
 h2{font-size:15px;margin:2px 0 8px} table{border-collapse:collapse;width:100%}
 td,th{text-align:left;padding:5px 6px;border-bottom:1px solid #e4e6eb;vertical-align:top}
 .p-critical{background:#c62828;color:#fff}.p-high{background:#ef6c00;color:#fff}.p-medium{background:#f9a825}.p-low{background:#9e9e9e;color:#fff}
 .tag{border-radius:3px;padding:1px 6px;font-size:12px} .muted{color:#667} .err{color:#b00020}
</style></head><body>
<header><h1>Millwright</h1><span class="muted" id="updated"></span>
<span style="flex:1"></span><label>API key <input id="key" type="password" placeholder="viewer or operator key"></label></header>
<main>
 <div class="cards" id="cards"></div>
 <section><h2>Open incidents</h2><table id="incidents"></table></section>
 <section><h2>Technicians</h2><table id="techs"></table></section>
 <section><h2>Parts short (flagged on the work order)</h2><table id="short"></table></section>
 <section><h2>Work orders needing attention (dead letter / retrying)</h2><table id="stuck"></table></section>
 <section><h2>Orphaned detections (camera or asset not mapped)</h2><table id="orphans"></table></section>
</main>
<script>
const keyInput=document.getElementById('key');keyInput.value=localStorage.getItem('mwkey')||'';
keyInput.onchange=()=>{localStorage.setItem('mwkey',keyInput.value);load()};
const esc=s=>String(s??'').replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
async function api(p){const r=await fetch(p,{headers:{Authorization:'Bearer '+keyInput.value}});
 if(!r.ok){const e=await r.json().catch(()=>({detail:r.statusText}));throw new Error(e.detail)}return r.json()}
function rows(el,head,items,fn){document.getElementById(el).innerHTML='<tr>'+head.map(h=>'<th>'+h+'</th>').join('')+'</tr>'+
 (items.length?items.map(fn).join(''):'<tr><td colspan="'+head.length+'" class="muted">none</td></tr>')}
async function load(){
 try{
  const [s,inc,dl,wait,orph,techs,short,quar,review]=await Promise.all([api('/v1/stats'),api('/v1/incidents?state=open'),api('/v1/work-orders?phase=dead_letter'),
   api('/v1/work-orders?phase=waiting'),api('/v1/detections?status=orphaned&limit=20'),api('/v1/technicians'),
   api('/v1/inventory/reservations?status=short'),api('/v1/work-orders?phase=quarantined'),api('/v1/work-orders?phase=needs_review')]);
  const st=s.detections_by_status||{},ph=s.work_orders_by_phase||{};
  const card=(l,v)=>'<div class="card">'+l+'<b>'+esc(v)+'</b></div>';
  document.getElementById('cards').innerHTML=card('Detections',s.detections_total)+card('Confirmed',st.confirmed||0)+
   card('Repeats suppressed',st.suppressed_repeat||0)+card('Orphaned',st.orphaned||0)+card('Open incidents',s.incidents_open)+
   card('Work orders created',ph.delivered||0)+card('Dead letter',ph.dead_letter||0)+card('Quarantined',ph.quarantined||0)+card('Needs review',ph.needs_review||0)+
   card('Detection→WO p50',s.latency_p50_ms==null?'–':Math.round(s.latency_p50_ms)+' ms');
  rows('incidents',['Priority','Defect','Asset','Camera','Severity','Seen','Work order'],inc.items,i=>'<tr><td><span class="tag p-'+i.priority+'">'+i.priority+
   '</span></td><td>'+esc(i.defect_class)+(i.zone?' / '+esc(i.zone):'')+'</td><td>'+esc(i.asset)+'</td><td>'+esc(i.camera_id)+'</td><td>'+i.severity+
   '</td><td>'+i.detection_count+'× · last '+esc(i.last_seen)+'</td><td>'+(i.work_order?esc(i.work_order.reference)+' · '+esc(i.work_order.phase)+
   (i.work_order.cmms_id?' · CMMS '+esc(i.work_order.cmms_id):''):'')+'</td></tr>');
  rows('techs',['Technician','Shift','Area','Skills','Open work orders'],techs.items,t=>'<tr><td>'+esc(t.id)+' '+esc(t.name)+(t.on_call?' <span class="muted">on call</span>':'')+
   '</td><td>'+esc(t.shift)+(t.on_shift?' · <b>on shift</b>':' · off')+'</td><td>'+esc(t.area)+'</td><td>'+esc(t.skills.join(', '))+'</td><td>'+
   (t.work_orders.length?t.work_orders.map(w=>'<span class="tag p-'+w.priority+'">'+esc(w.reference)+'</span>'+(w.acknowledged?' ✓':' <span class="muted">not acknowledged</span>')).join(' '):'<span class="muted">free</span>')+'</td></tr>');
  rows('short',['Part','Qty','Work order','Asset','Store'],short.items,r=>'<tr><td>'+esc(r.sku)+'</td><td>'+r.qty+'</td><td>'+esc(r.reference)+'</td><td>'+
   esc(r.asset)+' · '+esc(r.defect_class)+'</td><td>'+esc(r.location)+' · '+(r.free_now??0)+' free</td></tr>');
  rows('stuck',['Reference','CMMS','Phase','Attempts','Last error'],review.items.concat(quar.items,dl.items,wait.items),w=>'<tr><td>'+esc(w.reference)+'</td><td>'+esc(w.cmms)+
   '</td><td>'+esc(w.phase)+'</td><td>'+w.attempts+'</td><td class="err">'+esc(w.last_error)+'</td></tr>');
  rows('orphans',['Camera','Defect','Time','Why'],orph.items,d=>'<tr><td>'+esc(d.camera_id)+'</td><td>'+esc(d.defect_class)+'</td><td>'+esc(d.timestamp)+
   '</td><td>'+esc(d.reason)+'</td></tr>');
  document.getElementById('updated').textContent='updated '+new Date().toLocaleTimeString();
 }catch(e){document.getElementById('updated').innerHTML='<span class="err">'+esc(e.message)+'</span>'}
}
load();setInterval(load,5000);
</script></body></html>
"""#
}
