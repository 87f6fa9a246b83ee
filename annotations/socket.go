package annotations

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/httpx"
)

// JSONAnnotator adapts the Service to the websocket layer, which hands over
// request bodies as raw JSON (the live hub's Annotator): the same strict
// decoding as the REST handlers, then the same Service methods, so a change
// made over the socket is validated, authorized, logged and published
// exactly like one made over REST. The event is published before the
// method returns.
type JSONAnnotator struct {
	S *Service
}

func decodeBody(body json.RawMessage, v any) error {
	if !utf8.Valid(body) {
		return apperr.New(nil, "invalid_utf8", "the message body is not valid UTF-8 text")
	}
	return httpx.DecodeJSON(bytes.NewReader(body), v, maxJSON)
}

// Create is POST /clips/:id/annotations; the result is the annotation JSON.
func (j JSONAnnotator) Create(ctx context.Context, a accounts.Actor, clipID string, body json.RawMessage) (json.RawMessage, error) {
	var in AnnotationInput
	if err := decodeBody(body, &in); err != nil {
		return nil, err
	}
	ann, _, err := j.S.Create(ctx, a, clipID, in)
	if err != nil {
		return nil, err
	}
	return marshalAnnotation(ann)
}

// Update is PATCH /clips/:id/annotations/:aid.
func (j JSONAnnotator) Update(ctx context.Context, a accounts.Actor, clipID, annID string, body json.RawMessage) (json.RawMessage, error) {
	var p AnnotationPatch
	if err := decodeBody(body, &p); err != nil {
		return nil, err
	}
	ann, err := j.S.Update(ctx, a, clipID, annID, p)
	if err != nil {
		return nil, err
	}
	return marshalAnnotation(ann)
}

// Delete is DELETE /clips/:id/annotations/:aid.
func (j JSONAnnotator) Delete(ctx context.Context, a accounts.Actor, clipID, annID string) error {
	_, err := j.S.Delete(ctx, a, clipID, annID)
	return err
}

func marshalAnnotation(ann Annotation) (json.RawMessage, error) {
	b, err := json.Marshal(ann)
	if err != nil {
		return nil, fmt.Errorf("encode annotation %s: %w", ann.ID, err)
	}
	return b, nil
}
