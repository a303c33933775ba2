-- Webhook subscriptions and their deliveries. The delivery worker of any Kopa instance reads
-- the change log from each subscription's position (only below the change feed's horizon, so
-- nothing is skipped), queues one delivery per change, and sends them in order; rows are
-- claimed with FOR UPDATE SKIP LOCKED, so no two instances send one subscription's deliveries
-- at once.

CREATE TABLE webhooks (
    id uuid PRIMARY KEY,
    -- Whose subscription it is (null: an operator's).
    organisation_id uuid REFERENCES organisations (id) ON DELETE CASCADE,
    url text NOT NULL CONSTRAINT webhooks_url_check CHECK (url ~ '^https?://[^\s]+$' AND length(url) <= 2000),
    description text CONSTRAINT webhooks_description_check CHECK (length(description) <= 500),
    -- Kinds of record to deliver (empty: every kind).
    resources text[] NOT NULL DEFAULT '{}',
    -- Only changes of this project, or of the projects this organisation leads or partners in.
    project_id uuid REFERENCES projects (id) ON DELETE CASCADE,
    about_organisation_id uuid REFERENCES organisations (id) ON DELETE CASCADE,
    -- What the subscriber may read: published records, also its organisation's drafts, or all.
    visibility text NOT NULL CHECK (visibility IN ('published', 'own', 'all')),
    secret text NOT NULL,
    -- After a rotation the old secret signs too until then, so receivers can switch over.
    previous_secret text,
    previous_secret_until timestamptz,
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    -- The change-log position up to which changes have been queued.
    position_txid xid8 NOT NULL,
    position_id bigint NOT NULL DEFAULT 0,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX webhooks_organisation_idx ON webhooks (organisation_id, id);
CREATE TRIGGER webhooks_touch BEFORE UPDATE ON webhooks FOR EACH ROW EXECUTE FUNCTION kopa_touch();

CREATE TABLE webhook_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- The change's feed cursor: the `webhook-id` header.
    message_id text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    last_status smallint,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    CONSTRAINT webhook_deliveries_message_key UNIQUE (webhook_id, message_id)
);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (webhook_id, id) WHERE status = 'pending';

-- Every attempt to send a delivery, with what the receiver answered.
CREATE TABLE webhook_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    webhook_id uuid NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    status_code smallint,
    error text,
    duration_ms integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
