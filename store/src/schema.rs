//! The store's schema, as numbered migrations. `PRAGMA user_version` records how many
//! have run; each runs in its own transaction, so a crash mid-migration leaves the
//! previous version intact.

/// Migration N (1-based) is `MIGRATIONS[N - 1]`. Append only: a shipped migration never
/// changes.
pub const MIGRATIONS: &[&str] = &[
    // 1: catalogue, batches, sales, stock movements, plugins, outbox.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE sku (
        sku           TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        category      TEXT NOT NULL,
        unit_price    INTEGER NOT NULL CHECK (unit_price >= 0),
        local_produce INTEGER NOT NULL DEFAULT 0,
        fresh         INTEGER NOT NULL DEFAULT 0,
        reusable_box  INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE batch (
        batch        TEXT PRIMARY KEY,
        sku          TEXT NOT NULL REFERENCES sku(sku),
        supplier     TEXT,
        received_at  INTEGER NOT NULL,
        expires_at   INTEGER,
        qty_received INTEGER NOT NULL CHECK (qty_received > 0),
        qty_on_hand  INTEGER NOT NULL CHECK (qty_on_hand >= 0)
    );
    -- FIFO: the oldest batch of a SKU with stock is sold first.
    CREATE INDEX batch_fifo ON batch (sku, received_at, batch);

    CREATE TABLE sale (
        sale      INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        customer  TEXT,
        total     INTEGER NOT NULL
    );
    CREATE INDEX sale_at ON sale (at);

    -- One row per (line, batch): a line spanning two batches is two rows.
    CREATE TABLE sale_line (
        sale        INTEGER NOT NULL REFERENCES sale(sale),
        line        INTEGER NOT NULL,
        sku         TEXT NOT NULL,
        batch       TEXT NOT NULL,
        qty         INTEGER NOT NULL CHECK (qty > 0),
        shelf_price INTEGER NOT NULL,
        unit_price  INTEGER NOT NULL,
        PRIMARY KEY (sale, line)
    );
    CREATE INDEX sale_line_batch ON sale_line (batch);
    CREATE INDEX sale_line_sku ON sale_line (sku);

    -- The receipt's explanation: which install changed which line, by how much, why.
    CREATE TABLE sale_adjustment (
        sale    INTEGER NOT NULL REFERENCES sale(sale),
        line    INTEGER NOT NULL,
        install TEXT NOT NULL,
        amount  INTEGER NOT NULL,
        reason  TEXT NOT NULL
    );
    CREATE INDEX sale_adjustment_sale ON sale_adjustment (sale);

    -- Every change of a batch's stock: receipts, sales, transfers, write-offs.
    CREATE TABLE stock_movement (
        movement  INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        batch     TEXT NOT NULL REFERENCES batch(batch),
        delta     INTEGER NOT NULL,
        reason    TEXT NOT NULL,
        reference TEXT
    );
    CREATE INDEX stock_movement_batch ON stock_movement (batch, at);

    CREATE TABLE plugin_install (
        install   TEXT PRIMARY KEY,
        world     TEXT NOT NULL,
        position  INTEGER NOT NULL,
        enabled   INTEGER NOT NULL DEFAULT 1,
        config    TEXT NOT NULL DEFAULT '{}',
        grants    TEXT NOT NULL DEFAULT '[]',
        wasm      BLOB NOT NULL
    );

    CREATE TABLE plugin_kv (
        install TEXT NOT NULL,
        key     TEXT NOT NULL,
        value   BLOB NOT NULL,
        PRIMARY KEY (install, key)
    );

    -- Events for the alliance, written in the same transaction as the change.
    CREATE TABLE outbox (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        payload TEXT NOT NULL,
        acked   INTEGER NOT NULL DEFAULT 0
    );
    "#,
    // 2: the recycling points ledger: every refund and every point, per pseudonym.
    r#"
    CREATE TABLE points_ledger (
        entry    INTEGER PRIMARY KEY,
        customer TEXT NOT NULL,
        at       INTEGER NOT NULL,
        kind     TEXT NOT NULL,
        points   INTEGER NOT NULL,
        refund   INTEGER NOT NULL DEFAULT 0,
        discount INTEGER NOT NULL DEFAULT 0,
        reason   TEXT NOT NULL
    );
    CREATE INDEX points_ledger_customer ON points_ledger (customer, entry);
    "#,
    // 3: presale campaigns and their pre-orders; supplier orders; elderly deliveries.
    r#"
    CREATE TABLE presale_campaign (
        campaign      TEXT PRIMARY KEY,
        sku           TEXT NOT NULL REFERENCES sku(sku),
        product       TEXT NOT NULL,
        supplier      TEXT NOT NULL,
        opened_at     INTEGER NOT NULL,
        deadline      INTEGER NOT NULL,
        min_qty       INTEGER NOT NULL,
        weekly_volume INTEGER NOT NULL,
        extended      INTEGER NOT NULL DEFAULT 0,
        -- open, go, no-go
        status        TEXT NOT NULL DEFAULT 'open',
        reason        TEXT
    );

    CREATE TABLE presale_order (
        preorder INTEGER PRIMARY KEY,
        campaign TEXT NOT NULL REFERENCES presale_campaign(campaign),
        customer TEXT NOT NULL,
        qty      INTEGER NOT NULL CHECK (qty > 0),
        -- placed, cancelled, confirmed (campaign went ahead), released (it did not)
        status   TEXT NOT NULL DEFAULT 'placed',
        at       INTEGER NOT NULL
    );
    CREATE INDEX presale_order_campaign ON presale_order (campaign, status);

    CREATE TABLE supplier_order (
        supplier_order INTEGER PRIMARY KEY,
        campaign       TEXT NOT NULL REFERENCES presale_campaign(campaign),
        supplier       TEXT NOT NULL,
        sku            TEXT NOT NULL,
        qty            INTEGER NOT NULL,
        at             INTEGER NOT NULL
    );

    CREATE TABLE delivery (
        delivery     TEXT PRIMARY KEY,
        customer     TEXT NOT NULL,
        emergency    INTEGER NOT NULL,
        priority     TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        eta          INTEGER,
        plan         TEXT NOT NULL,
        -- planned, delivered
        status       TEXT NOT NULL DEFAULT 'planned',
        delivered_at INTEGER
    );
    CREATE INDEX delivery_open ON delivery (status, emergency DESC, eta);
    "#,
    // 4: sensor readings, the latest reading per device, cold-chain alerts; the
    // customer cohort of a sale (for the data-sharing aggregates).
    r#"
    CREATE TABLE sensor_reading (
        reading INTEGER PRIMARY KEY,
        device  TEXT NOT NULL,
        kind    TEXT NOT NULL,
        value   REAL NOT NULL,
        at      INTEGER NOT NULL
    );
    CREATE INDEX sensor_reading_device ON sensor_reading (device, kind, at);
    CREATE INDEX sensor_reading_at ON sensor_reading (at);

    CREATE TABLE sensor_latest (
        device TEXT NOT NULL,
        kind   TEXT NOT NULL,
        value  REAL NOT NULL,
        at     INTEGER NOT NULL,
        PRIMARY KEY (device, kind)
    ) WITHOUT ROWID;

    -- A temperature excursion that lasted longer than the cold-chain rule allows.
    CREATE TABLE cold_chain_alert (
        alert           INTEGER PRIMARY KEY,
        device          TEXT NOT NULL,
        min_celsius     REAL NOT NULL,
        max_celsius     REAL NOT NULL,
        -- The first reading out of range, the reading that raised the alert, the latest
        -- reading out of range, and the first reading back in range.
        started_at      INTEGER NOT NULL,
        raised_at       INTEGER NOT NULL,
        last_at         INTEGER NOT NULL,
        ended_at        INTEGER,
        -- The reading furthest out of range.
        worst           REAL NOT NULL,
        acknowledged_at INTEGER,
        acknowledged_by TEXT,
        note            TEXT,
        UNIQUE (device, started_at)
    );
    CREATE INDEX cold_chain_alert_open ON cold_chain_alert (acknowledged_at, alert);

    -- elderly (care card), member, walk-in.
    ALTER TABLE sale ADD COLUMN cohort TEXT NOT NULL DEFAULT 'walk-in';
    "#,
    // 5: the trust store: publisher keys whose bundles this store installs.
    r#"
    CREATE TABLE trusted_key (
        key_id     TEXT PRIMARY KEY,
        public_key TEXT NOT NULL UNIQUE,
        label      TEXT NOT NULL,
        added_at   INTEGER NOT NULL
    );
    "#,
    // 6: every version of every install, for upgrades and rollbacks; the active and the
    // previous version of an install.
    r#"
    CREATE TABLE plugin_version (
        install      TEXT NOT NULL,
        version      TEXT NOT NULL,
        -- `namespace/name` from the bundle's manifest.
        plugin       TEXT NOT NULL,
        manifest     TEXT NOT NULL,
        wasm         BLOB NOT NULL,
        -- The key id that signed the bundle; none for the reference plugins.
        signer       TEXT,
        installed_at INTEGER NOT NULL,
        PRIMARY KEY (install, version)
    );
    ALTER TABLE plugin_install ADD COLUMN plugin TEXT;
    ALTER TABLE plugin_install ADD COLUMN version TEXT;
    ALTER TABLE plugin_install ADD COLUMN previous TEXT;
    "#,
    // 7: shadow runs: the candidate version beside an install, and the calls on which
    // it answered differently.
    r#"
    ALTER TABLE plugin_install ADD COLUMN shadow TEXT;
    CREATE TABLE shadow_difference (
        difference INTEGER PRIMARY KEY,
        install    TEXT NOT NULL,
        candidate  TEXT NOT NULL,
        at         INTEGER NOT NULL,
        call       TEXT NOT NULL,
        active     TEXT NOT NULL,
        shadow     TEXT NOT NULL
    );
    CREATE INDEX shadow_difference_install ON shadow_difference (install, candidate, difference);
    "#,
    // 8: what a return brought back (`deposit-box` or `packaging`, how many), so the
    // packaging return rate counts boxes, not points; older entries count none.
    r#"
    ALTER TABLE points_ledger ADD COLUMN returned_kind TEXT;
    ALTER TABLE points_ledger ADD COLUMN returned_count INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX points_ledger_at ON points_ledger (at);
    "#,
    // 9: a version of the stock, bumped in the same transaction as any change to a SKU
    // or a batch, so a copy of the stock kept in memory knows when it is stale.
    r#"
    CREATE TABLE stock_version (version INTEGER NOT NULL);
    INSERT INTO stock_version VALUES (0);
    CREATE TRIGGER sku_inserted AFTER INSERT ON sku
        BEGIN UPDATE stock_version SET version = version + 1; END;
    CREATE TRIGGER sku_updated AFTER UPDATE ON sku
        BEGIN UPDATE stock_version SET version = version + 1; END;
    CREATE TRIGGER sku_deleted AFTER DELETE ON sku
        BEGIN UPDATE stock_version SET version = version + 1; END;
    CREATE TRIGGER batch_inserted AFTER INSERT ON batch
        BEGIN UPDATE stock_version SET version = version + 1; END;
    CREATE TRIGGER batch_updated AFTER UPDATE ON batch
        BEGIN UPDATE stock_version SET version = version + 1; END;
    CREATE TRIGGER batch_deleted AFTER DELETE ON batch
        BEGIN UPDATE stock_version SET version = version + 1; END;
    "#,
    // 10: the outbox rows sync has yet to send, found without reading the acknowledged
    // ones. (`seq` is AUTOINCREMENT: never reused, so it is the store's sequence number
    // for the alliance as it is.)
    r#"
    CREATE INDEX outbox_pending ON outbox (seq) WHERE acked = 0;
    "#,
    // 11: the alliance's shared stock pool: what this store offers (each offer goes to
    // the alliance through the outbox), and the accepted transfers it has recorded as
    // stock movements, each once by the alliance's id.
    r#"
    CREATE TABLE pool_offer (
        offer        INTEGER PRIMARY KEY AUTOINCREMENT,
        batch        TEXT NOT NULL REFERENCES batch(batch),
        qty          INTEGER NOT NULL CHECK (qty > 0),
        offered_at   INTEGER NOT NULL,
        seq          INTEGER NOT NULL,
        withdrawn_at INTEGER
    );
    CREATE TABLE pool_transfer (
        transfer    INTEGER PRIMARY KEY,
        direction   TEXT NOT NULL CHECK (direction IN ('out', 'in')),
        batch       TEXT NOT NULL REFERENCES batch(batch),
        other_store TEXT NOT NULL,
        qty         INTEGER NOT NULL CHECK (qty >= 0),
        recorded_at INTEGER NOT NULL
    );
    "#,
];
