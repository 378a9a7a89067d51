//! `POST /register`: dynamic client registration (RFC 7591 §3), with its
//! storage rules (`oauth::register`): a public client's id is derived from
//! its metadata, so registering again reads and writes nothing new.

use crate::http::{Fault, HttpError, Reply};
use crate::keys;
use crate::oauth::kv::Kv;
use crate::oauth::registrar::RegisteredClients;
use crate::oauth::site::{store_fault, with_cors, Site};

/// RFC 7591 §3: dynamic client registration. One KV read for a public client
/// registered before (up to three for a new one: its id under the older
/// derivations) and at most one KV write; a public client registered again
/// costs the read only (see
/// `oauth::register` for the storage rules). A storage fault answers 503
/// `temporarily_unavailable`: nothing is answered that is not stored.
pub async fn register(site: &Site<'_>, store: &dyn Kv, body: &[u8]) -> Result<Reply, HttpError> {
    use crate::oauth::register::{self as reg, RegistrationRequest};
    if let Some(refused) = crate::oauth::policy::registration_closed(&site.config.admission) {
        return Ok(with_cors(refused));
    }
    let validated = match RegistrationRequest::from_json(body).and_then(reg::validate) {
        Ok(v) => v,
        Err(e) => return Ok(with_cors(e.to_json_reply())),
    };
    let (now, ttl) = (site.now, site.config.client_ttl);
    let registered = if validated.is_public() {
        // Derived under a key that no SECRET_KEY rotation changes (the issuer),
        // so a client that registers again on each connection keeps its id,
        // and its refresh tokens, across a rotation.
        let mut client_id = reg::public_client_id(&validated, &reg::stable_id_key(site.issuer));
        let clients = RegisteredClients(store);
        let mut stored = clients.get(&client_id).await?;
        if stored.is_none() {
            // A client registered while ids were derived with SECRET_KEY keeps
            // the id it has (read only when the stable id is not stored).
            for key in site.ring().all() {
                let legacy = reg::public_client_id(&validated, key);
                if let Some(found) = clients.get(&legacy).await? {
                    client_id = legacy;
                    stored = Some(found);
                    break;
                }
            }
        }
        // The same metadata gives the same id: a blocked one stays blocked.
        // Blocking deletes the record and this refuses to write it again, so
        // only a registration that would write reads the block list.
        if stored.as_ref().is_none_or(|c| c.is_expired(now)) {
            if let Some(refused) =
                crate::oauth::policy::blocked_registration(store, &client_id).await?
            {
                return Ok(with_cors(refused));
            }
        }
        reg::register_public(validated, client_id, stored, now, ttl)
    } else {
        let client_id = site.random_id()?;
        let secret = site.random()?;
        reg::register_confidential(validated, client_id, secret, now, ttl)
    };
    if registered.write {
        let client = &registered.client;
        let json =
            serde_json::to_string(client).map_err(|e| HttpError::internal(Fault::Encoding, e))?;
        store
            .put(&keys::client(&client.client_id), &json, ttl)
            .await
            .map_err(store_fault)?;
    }
    Ok(with_cors(
        Reply::json(201, &registered.response()).no_store(),
    ))
}
