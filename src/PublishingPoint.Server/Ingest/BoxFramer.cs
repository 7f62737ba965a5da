using System.Buffers;
using System.IO.Pipelines;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// Cuts an ISO-BMFF request body into boxes as it arrives. Box sizes are checked against the limit before
/// anything is buffered, and box bodies are copied out of the pipe as they come (the pipe never holds a
/// whole 'mdat'), so memory per connection is one box.
/// </summary>
internal sealed class BoxFramer(PipeReader reader, long maxBoxBytes, IngestMemoryAccount? memory = null)
{
    // A large box's first half arrives in pooled chunks of this size: what a client announces is not what it gets.
    private const int ChunkBytes = 64 * 1024;

    private static readonly HashSet<FourCC> _openingTypes =
    [
        BoxTypes.Ftyp, BoxTypes.Styp, BoxTypes.Moov, BoxTypes.Uuid, BoxTypes.Moof, BoxTypes.Free, BoxTypes.Skip,
        BoxTypes.Sidx, BoxTypes.Mfra, FourCC.From("emsg"), FourCC.From("prft"),
    ];

    private long _position;

    /// <summary>Bytes of the body consumed so far.</summary>
    public long Position => _position;

    /// <summary>The next box's header without consuming it; null at a clean end of the body.</summary>
    public async ValueTask<BoxHeader?> PeekAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.IsEmpty && result.IsCompleted)
            {
                reader.AdvanceTo(buffer.Start);
                return null;
            }

            bool parsed;
            BoxHeader header;
            try
            {
                parsed = TryParseHeader(buffer, out header);
            }
            catch
            {
                // Leave the reader consumable: the server drains the rest of a refused body after the answer.
                reader.AdvanceTo(buffer.Start);
                throw;
            }

            if (parsed)
            {
                reader.AdvanceTo(buffer.Start);
                if (_position == 0 && !_openingTypes.Contains(header.Type))
                {
                    throw new PointRuleException(StatusCodes.Status415UnsupportedMediaType,
                        $"not ISO-BMFF: a body starts with ftyp, styp, moov or moof, not '{header.Type}'");
                }

                if (header.Size > maxBoxBytes)
                {
                    throw new PointRuleException(StatusCodes.Status413PayloadTooLarge,
                        $"box '{header.Type}' of {header.Size} bytes at offset {_position} is over the {maxBoxBytes}-byte limit");
                }

                return header;
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.Start);
                throw new PointRuleException(StatusCodes.Status400BadRequest, $"body ends inside a box header at offset {_position}");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// Reads the whole box (header included) into a new array of exactly <paramref name="prefix"/> + the box's size,
    /// after a copy of <paramref name="prefix"/> (a 'moof' before its 'mdat'). Memory is reserved from the connection's
    /// account as bytes arrive, never more than twice what has arrived; the caller owns the reservation of the
    /// result's length.
    /// </summary>
    public async ValueTask<byte[]> ReadBoxAsync(BoxHeader header, byte[]? prefix, CancellationToken cancellationToken) =>
        (await ReadAsync(header, prefix, pooled: false, cancellationToken).ConfigureAwait(false)).Array;

    /// <summary>
    /// <see cref="ReadBoxAsync"/> for a fragment ('moof' then its 'mdat'): a large one into an array of the fragment
    /// pool, which the caller releases once it has handed the fragment on.
    /// </summary>
    public ValueTask<FragmentBuffer> ReadFragmentAsync(BoxHeader mdat, byte[] moof, CancellationToken cancellationToken) =>
        ReadAsync(mdat, moof, pooled: true, cancellationToken);

    private async ValueTask<FragmentBuffer> ReadAsync(BoxHeader header, byte[]? prefix, bool pooled, CancellationToken cancellationToken)
    {
        var prefixLength = prefix?.Length ?? 0;
        var total = checked(prefixLength + (int)header.Size);
        if (total <= ChunkBytes)
        {
            memory?.Reserve(total);
            var small = new byte[total];
            prefix?.CopyTo(small, 0);
            await FillAsync(header, small.AsMemory(prefixLength), 0, cancellationToken).ConfigureAwait(false);
            return FragmentBuffer.Wrap(small);
        }

        // The first half of a large box arrives in pooled 64 KB chunks, reserved one at a time (so an announced size
        // pins nothing); then the array of its exact size takes them and the second half goes straight into it. Half
        // the box is copied once, and no large buffer goes back to a pool to be kept there (pooled megabyte buffers
        // were a third of the managed heap of a three-channel push).
        memory?.Reserve(prefixLength);
        var chunks = new List<byte[]>();
        var received = 0;
        try
        {
            while (prefixLength + received < total / 2)
            {
                var length = Math.Min(ChunkBytes, total - prefixLength - received);
                memory?.Reserve(length);
                var chunk = ArrayPool<byte>.Shared.Rent(ChunkBytes);
                chunks.Add(chunk);
                await FillAsync(header, chunk.AsMemory(0, length), received, cancellationToken).ConfigureAwait(false);
                received += length;
            }

            memory?.Reserve(total - prefixLength - received);
            var box = pooled ? FragmentBufferPool.Shared.Rent(total) : FragmentBuffer.Wrap(GC.AllocateUninitializedArray<byte>(total));
            try
            {
                prefix?.CopyTo(box.Array, 0);
                var at = prefixLength;
                foreach (var chunk in chunks)
                {
                    var length = Math.Min(ChunkBytes, prefixLength + received - at);
                    chunk.AsSpan(0, length).CopyTo(box.Array.AsSpan(at));
                    at += length;
                }

                ReturnAll(chunks);
                await FillAsync(header, box.Memory[at..], received, cancellationToken).ConfigureAwait(false);
                return box;
            }
            catch
            {
                box.Release();
                throw;
            }
        }
        finally
        {
            ReturnAll(chunks);
        }
    }

    private static void ReturnAll(List<byte[]> chunks)
    {
        foreach (var chunk in chunks)
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        chunks.Clear();
    }

    /// <summary>Fills <paramref name="target"/> with the box's next bytes; <paramref name="before"/> of its bytes came earlier.</summary>
    private async ValueTask FillAsync(BoxHeader header, Memory<byte> target, long before, CancellationToken cancellationToken)
    {
        var at = 0;
        while (at < target.Length)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var take = (int)Math.Min(result.Buffer.Length, target.Length - at);
            result.Buffer.Slice(0, take).CopyTo(target.Span[at..]);
            at += take;
            _position += take;
            reader.AdvanceTo(result.Buffer.GetPosition(take));
            if (at < target.Length && take == 0 && result.IsCompleted)
            {
                throw new PointRuleException(StatusCodes.Status400BadRequest,
                    $"body ends inside box '{header.Type}' ({before + at} of {header.Size} bytes): the partial box is discarded");
            }
        }
    }

    /// <summary>Consumes a box that is not needed, without buffering it.</summary>
    public async ValueTask SkipAsync(BoxHeader header, CancellationToken cancellationToken)
    {
        var left = header.Size;
        while (left > 0)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var take = Math.Min(result.Buffer.Length, left);
            reader.AdvanceTo(result.Buffer.GetPosition(take));
            left -= take;
            _position += take;
            if (left > 0 && result.IsCompleted)
            {
                throw new PointRuleException(StatusCodes.Status400BadRequest, $"body ends inside box '{header.Type}'");
            }
        }
    }

    private bool TryParseHeader(ReadOnlySequence<byte> buffer, out BoxHeader header)
    {
        Span<byte> bytes = stackalloc byte[BoxHeader.MaxHeaderLength];
        var length = (int)Math.Min(buffer.Length, bytes.Length);
        buffer.Slice(0, length).CopyTo(bytes);
        bytes = bytes[..length];
        if (length >= 8 && !FourCC.Read(bytes[4..]).IsPrintable)
        {
            throw new PointRuleException(StatusCodes.Status415UnsupportedMediaType,
                $"not ISO-BMFF: bytes at offset {_position} are not a box header");
        }

        try
        {
            return BoxHeader.TryRead(bytes, out header);
        }
        catch (InvalidBoxException e)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"{e.Message} (offset {_position})");
        }
    }
}
