// Link to a WARP server with the npm @swim/client and print status values as JSON lines.
// Usage: node link.mjs ws://127.0.0.1:PORT /stock/AAAA status COUNT
import { WarpClient } from "@swim/client";

const [host, node, lane, count] = process.argv.slice(2);
const client = new WarpClient();
let seen = 0;
const timer = setTimeout(() => { console.error("timed out"); process.exit(2); }, 15000);
const downlink = client.downlinkValue({
  hostUri: host,
  nodeUri: node,
  laneUri: lane,
  didSync() { console.error("synced"); },
  didSet(value) {
    console.log(JSON.stringify(value.toLike()));
    seen += 1;
    if (seen >= Number(count)) {
      clearTimeout(timer);
      downlink.close();
      setTimeout(() => process.exit(0), 200);
    }
  },
});
downlink.open();
