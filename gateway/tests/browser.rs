//! The storefront and the dashboard in a real browser: headless Chromium driven over
//! WebDriver (chromedriver, through `fantoccini`) against the real binaries (a catalog,
//! three raft nodes, the gateway). A person's afternoon: the toys with prices; a buy
//! through the form whose order number shows and whose stock falls without a reload (the
//! page's `GET /events` stream); a buy and a price change made elsewhere showing up live;
//! the order found with the lookup form; the dashboard naming the leader; the leader
//! SIGKILLed, a buy in the store still going through, and the dashboard naming the new one.
//!
//! Every wait polls the page with a deadline. Without Chromium the test says it skipped,
//! or fails when `CI` is set. With `SCREENSHOTS_DIR` set it saves the pages there as PNG
//! (`docs/screenshots/` holds a set).

mod webdriver;

use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use testkit::{wait_until_async, Cluster, ClusterOptions, Member};

use webdriver::{find_tools, painted, run, text, Driver};

const DEADLINE: Duration = Duration::from_secs(30);
/// The ten toys of a fresh catalog.
const TOYS: usize = 10;

/// Polls `css`'s text until `wanted` accepts it; returns it.
async fn until_text(
    client: &Client,
    what: &str,
    css: &str,
    wanted: impl Fn(&str) -> bool,
) -> String {
    let found = wait_until_async(what, DEADLINE, || async {
        let now = text(client, css).await?;
        wanted(&now).then_some(now)
    })
    .await;
    match found {
        Ok(now) => now,
        Err(err) => panic!("{err}; {css} shows {:?}", text(client, css).await),
    }
}

/// The stock the storefront shows for `toy`.
async fn shown_stock(client: &Client, toy: &str) -> Option<u64> {
    let css = format!(r#"tr[data-name="{toy}"] td.stock"#);
    text(client, &css).await?.parse().ok()
}

async fn until_stock(client: &Client, toy: &str, stock: u64) {
    let css = format!(r#"tr[data-name="{toy}"] td.stock"#);
    let what = format!("the page to show {stock} {toy} in stock");
    until_text(client, &what, &css, |t| t == stock.to_string()).await;
}

/// Buys through the form; returns the order number the page shows.
async fn buy_in_page(client: &Client, toy: &str, quantity: u64) -> u64 {
    let before = text(client, "#buy-result").await.unwrap_or_default();
    let select = client.find(Locator::Id("buy-name")).await.unwrap();
    select.select_by_value(toy).await.unwrap();
    let field = client.find(Locator::Id("buy-quantity")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(&quantity.to_string()).await.unwrap();
    client
        .find(Locator::Id("buy-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let shown = until_text(client, "the buy's answer", "#buy-result", |t| {
        t != before && (t.starts_with("Order ") || t.starts_with("Not bought"))
    })
    .await;
    let suffix = format!(" placed: {quantity} \u{d7} {toy}");
    let number = shown
        .strip_prefix("Order ")
        .and_then(|rest| rest.strip_suffix(&suffix))
        .unwrap_or_else(|| panic!("the buy failed: {shown}"));
    number.parse().unwrap()
}

/// Saves a screenshot as `<SCREENSHOTS_DIR>/<name>.png` when that variable is set
/// (`SCREENSHOTS_DIR=docs/screenshots cargo test -p gateway --test browser` renews the
/// committed set).
async fn screenshot(client: &Client, name: &str) {
    let Some(dir) = std::env::var_os("SCREENSHOTS_DIR").map(PathBuf::from) else {
        return;
    };
    // Tests run in the package's directory; a relative path means one from the workspace's.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    // A click may have scrolled the page; the picture shows it from the top.
    run(client, "window.scrollTo(0, 0); return null;", vec![]).await;
    painted(client).await;
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("saved {}", path.display());
}

/// The dashboard's view: leader text, term text, and per row (id, role, reachable).
async fn dashboard(client: &Client) -> (String, String, Vec<(u64, String, String)>) {
    let script = r#"return {
        leader: document.getElementById('leader').textContent,
        term: document.getElementById('term').textContent,
        rows: [...document.querySelectorAll('#nodes tbody tr')].map((r) =>
            [Number(r.dataset.id), r.querySelector('td.role').textContent, r.cells[4].textContent]),
    };"#;
    let view = run(client, script, vec![]).await;
    let rows = view["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_u64().unwrap(),
                r[1].as_str().unwrap().into(),
                r[2].as_str().unwrap().into(),
            )
        })
        .collect();
    let field = |name: &str| view[name].as_str().unwrap_or_default().to_string();
    (field("leader"), field("term"), rows)
}

/// Waits until the dashboard names `leader` (reachable, role leader) with a term, and
/// every node has a row.
async fn until_dashboard_leader(client: &Client, leader: u64) {
    let found = wait_until_async("the dashboard to name the leader", DEADLINE, || async {
        let (named, term, rows) = dashboard(client).await;
        let leads = rows
            .iter()
            .any(|(id, role, reachable)| *id == leader && role == "leader" && reachable == "yes");
        let ok =
            named == format!("node {leader}") && term.parse::<u64>().is_ok() && rows.len() == 3;
        (ok && leads).then_some(rows)
    })
    .await;
    if let Err(err) = found {
        panic!("{err}: the dashboard shows {:?}", dashboard(client).await);
    }
}

/// The browser and a plain HTTP client, both at one gateway.
struct Shopper {
    client: Client,
    http: reqwest::Client,
    base: String,
}

impl Shopper {
    async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// A buy through the API, not the page; returns its order number.
    async fn buy_elsewhere(&self, toy: &str, quantity: u64) -> u64 {
        let response = self
            .http
            .post(format!("{}/orders", self.base))
            .json(&json!({"name": toy, "quantity": quantity}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "a buy of {toy}: {body}");
        body["data"]["order_number"].as_u64().unwrap()
    }
}

/// The storefront: toys and prices, a buy through the form seen live, changes made
/// elsewhere seen live, the lookup form. Returns the form's order number.
async fn shop_in_the_store(shop: &Shopper, catalog: &str) -> u64 {
    let client = &shop.client;
    shop.open("/").await;
    let tux_price = r#"tr[data-name="Tux"] td.price"#;
    until_text(client, "Tux's price", tux_price, |t| t == "25.99").await;
    let rows = "return document.querySelectorAll('#products tbody tr').length;";
    assert_eq!(run(client, rows, vec![]).await, json!(TOYS));
    let live = r#"#products-status[data-live="true"]"#;
    until_text(client, "the page to be live", live, |_| true).await;
    // Gone if the page ever reloads.
    run(client, "window.notReloaded = true; return null;", vec![]).await;

    // A buy through the form: its number shows, and the stock falls by the stream alone.
    let tux = shown_stock(client, "Tux").await.unwrap();
    let first = buy_in_page(client, "Tux", 2).await;
    until_stock(client, "Tux", tux - 2).await;

    // Changes made elsewhere show up live: a buy through the API, a price at the catalog.
    let whale = shown_stock(client, "Whale").await.unwrap();
    assert_eq!(shop.buy_elsewhere("Whale", 3).await, first + 1);
    until_stock(client, "Whale", whale - 3).await;
    let priced = shop
        .http
        .put(format!("http://{catalog}/products/Bird/price"))
        .json(&json!({"price": 42.5}))
        .send()
        .await
        .unwrap();
    assert!(priced.status().is_success());
    let bird_price = r#"tr[data-name="Bird"] td.price"#;
    until_text(client, "Bird's new price", bird_price, |t| t == "42.50").await;

    // The order, found with the lookup form.
    let field = client.find(Locator::Id("lookup-number")).await.unwrap();
    field.send_keys(&first.to_string()).await.unwrap();
    let button = client.find(Locator::Id("lookup-button")).await.unwrap();
    button.click().await.unwrap();
    let wanted = format!("Order {first}: 2 \u{d7} Tux");
    until_text(client, "the lookup's answer", "#lookup-result", |t| {
        t == wanted
    })
    .await;
    let stayed = run(client, "return window.notReloaded === true;", vec![]).await;
    assert_eq!(stayed, json!(true), "the page reloaded");
    screenshot(client, "store-after-buy").await;
    first
}

/// The dashboard names the leader; the leader is SIGKILLed; a buy in the store still goes
/// through (order `next`), and the dashboard names the new leader and the dead node.
async fn lose_the_leader(shop: &Shopper, cluster: &mut Cluster, next: u64) {
    let client = &shop.client;
    let leader = cluster.wait_for_leader(DEADLINE).await.unwrap();
    shop.open("/dashboard").await;
    until_dashboard_leader(client, leader).await;
    screenshot(client, "dashboard").await;

    cluster.kill(Member::Node(leader)).unwrap();
    shop.open("/").await;
    until_text(
        client,
        "the toys",
        r#"tr[data-name="Tux"] td.stock"#,
        |_| true,
    )
    .await;
    let number = buy_in_page(client, "Tux", 1).await;
    assert_eq!(number, next, "order numbers stay dense across the failover");
    let new_leader = cluster.wait_for_leader(DEADLINE).await.unwrap();
    assert_ne!(new_leader, leader);
    shop.open("/dashboard").await;
    until_dashboard_leader(client, new_leader).await;
    let (_, _, rows) = dashboard(client).await;
    let dead = rows.iter().find(|(id, _, _)| *id == leader).unwrap();
    assert_eq!(
        dead.2, "no",
        "the killed node is shown unreachable: {rows:?}"
    );
}

/// Buys while the dashboard watches, until its chart has drawn a few seconds of them; its
/// rate and p99, sampled from `/metrics`, fill in.
async fn watch_buys_on_the_dashboard(shop: &Shopper) {
    let client = &shop.client;
    let toys = ["Uno", "Risk", "Sand", "Jenga", "Clue", "Elephant"];
    let mut buys = 0;
    wait_until_async("the dashboard's chart to draw the buys", DEADLINE, || {
        buys += 1;
        let toy = toys[buys % toys.len()];
        async move {
            shop.buy_elsewhere(toy, 1).await;
            let script = "return document.getElementById('rate-line').points.length;";
            let points = run(client, script, vec![]).await.as_u64()?;
            (points >= 6).then_some(())
        }
    })
    .await
    .unwrap();
    until_text(client, "a buy rate", "#buys-per-second", |t| {
        t.parse::<f64>().is_ok_and(|rate| rate > 0.0)
    })
    .await;
    until_text(client, "a p99", "#p99", |t| t.starts_with('\u{2264}')).await;
    screenshot(client, "dashboard-after-failover").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_buys_watches_stock_live_and_survives_a_failover() {
    let (chromium, chromedriver) = match find_tools() {
        Ok(tools) => tools,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the browser test needs Chromium in CI: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED browser test: {why}");
            return;
        }
    };
    let mut cluster = Cluster::start(ClusterOptions::default()).expect("cluster starts");
    let http = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap();
    let base = format!("http://{}", cluster.gateway_addr());
    wait_until_async("the gateway to be healthy", DEADLINE, || async {
        let response = http.get(format!("{base}/health")).send().await.ok()?;
        response.status().is_success().then_some(())
    })
    .await
    .unwrap();
    let driver = Driver::start(&chromedriver)
        .await
        .expect("chromedriver starts");
    let client = driver.browser(&chromium).await.expect("a browser session");
    let shop = Shopper { client, http, base };

    let first = shop_in_the_store(&shop, &cluster.catalog_addr()).await;
    lose_the_leader(&shop, &mut cluster, first + 2).await;
    watch_buys_on_the_dashboard(&shop).await;
    shop.client.close().await.unwrap();
}
