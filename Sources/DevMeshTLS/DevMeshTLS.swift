// The local certificate authority and TLS configurations of devmesh (see the CA/gateway/mTLS issue).
