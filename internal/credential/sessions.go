package credential

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/fleetsync/fleetsync/internal/store"
)

// Sessions are console sign-ins kept in the database, so that every
// replica sees a sign-out at once. A session is a random token the browser
// holds; the database keeps only its SHA-256, so a copy of the database
// signs nobody in.
type Sessions struct {
	Store store.Sessions
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Session is a stored sign-in of one access key.
type Session struct {
	// ID is the token's digest: stable for the session, and what its CSRF
	// tokens derive from.
	ID          string
	AccessKeyID string
	Account     string
	ExpiresMs   int64
}

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// sessionID is the stored id of a token.
func sessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Start stores a new session of keyID for ttl and returns it with the
// token to hand the browser. Expired sessions are swept here (sign-ins
// are rare).
func (s *Sessions) Start(ctx context.Context, keyID, account string, ttl time.Duration) (Session, string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	st := store.Session{ID: sessionID(token), AccessKeyID: keyID, Account: account, CreatedMs: now.UnixMilli(), ExpiresMs: now.Add(ttl).UnixMilli()}
	if err := s.Store.CreateSession(ctx, st); err != nil {
		return Session{}, "", err
	}
	if _, err := s.Store.DeleteSessionsExpiredBefore(ctx, now.UnixMilli()); err != nil && s.Log != nil {
		s.Log.Warn("sweeping expired console sessions failed", "error", err)
	}
	return Session{ID: st.ID, AccessKeyID: keyID, Account: account, ExpiresMs: st.ExpiresMs}, token, nil
}

// Find returns the live session of a token: ok is false for a token that
// was never issued, was signed out, or expired.
func (s *Sessions) Find(ctx context.Context, token string) (Session, bool, error) {
	if len(token) < 32 || len(token) > 64 {
		return Session{}, false, nil
	}
	st, err := s.Store.GetSession(ctx, sessionID(token))
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, err
	}
	if s.now().UnixMilli() >= st.ExpiresMs {
		return Session{}, false, nil
	}
	return Session{ID: st.ID, AccessKeyID: st.AccessKeyID, Account: st.Account, ExpiresMs: st.ExpiresMs}, true, nil
}

// End deletes a session (sign-out): its token is refused from now on, by
// every replica.
func (s *Sessions) End(ctx context.Context, id string) error {
	return s.Store.DeleteSession(ctx, id)
}
