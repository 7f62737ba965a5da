using System.IO.Pipelines;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Smooth;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// One encoder connection pushing fragmented MP4 (Smooth 'isml', PIFF or CMAF): the body framed box by box as it
/// arrives; header boxes, then moof+mdat pairs, handed to the stream's <see cref="StreamIndexer"/>; 'styp' marks a
/// segment boundary and 'mfra' the end of the stream.
/// </summary>
internal sealed class Fmp4IngestSession(PointRegistry registry, Point point, StreamFeed feed, IngestMemoryAccount memory, IngestMetrics metrics, ILogger logger) : IIngestSession
{
    private const int MaxHeaderBoxBytes = 1024 * 1024;
    private const int MaxManifestBoxBytes = 64 * 1024;
    private const int MaxFtypBytes = 4 * 1024;
    private const int MaxOtherHeaderBoxBytes = 64 * 1024;
    private static readonly TimeSpan _headerWait = TimeSpan.FromSeconds(5);

    private readonly StreamIndexer _indexer = new(registry, point, feed, memory, metrics, logger);

    // The boxes before the 'moov' that belong in the archive's header: at most an 'ftyp' and one ISML manifest.
    private readonly List<byte[]> _prologue = [];
    private ServerManifestTrack[] _manifest = [];
    private byte[]? _pendingMoof;

    public long Accepted => _indexer.Accepted;

    public long Duplicates => _indexer.Duplicates;

    public bool SawEnd { get; private set; }

    // An 'emsg' carries a cue or a tag, not media: a larger one is skipped, not buffered.
    private const int MaxEventBytes = 64 * 1024;

    public async Task RunAsync(PipeReader body, CancellationToken cancellationToken)
    {
        var complete = false;
        try
        {
            await ReadBoxesAsync(body, cancellationToken).ConfigureAwait(false);
            complete = true;
        }
        finally
        {
            _indexer.Finish(complete);
        }
    }

    private async Task ReadBoxesAsync(PipeReader body, CancellationToken cancellationToken)
    {
        var framer = new BoxFramer(body, registry.Options.MaxBoxBytes, memory);
        while (await framer.PeekAsync(cancellationToken).ConfigureAwait(false) is { } header)
        {
            var type = header.Type;
            if (type == BoxTypes.Moof)
            {
                await OnMoofAsync(framer, header, cancellationToken).ConfigureAwait(false);
            }
            else if (type == BoxTypes.Mdat)
            {
                await OnMdatAsync(framer, header, cancellationToken).ConfigureAwait(false);
            }
            else if (type == BoxTypes.Ftyp || type == BoxTypes.Moov || (type == BoxTypes.Uuid && header.UserType == BoxTypes.IsmlManifest)
                || (type == FourCC.From("prft") && header.Size <= 64))
            {
                await OnHeaderBoxAsync(framer, header, cancellationToken).ConfigureAwait(false);
            }
            else if (type == BoxTypes.Emsg && header.Size <= MaxEventBytes)
            {
                var box = await framer.ReadBoxAsync(header, null, cancellationToken).ConfigureAwait(false);
                memory.Release(box.Length);
                if (EmsgBox.TryRead(box.AsSpan(header.HeaderLength), out var emsg))
                {
                    _indexer.Event(emsg!);
                }
            }
            else
            {
                // sidx, free, skip, an oversized emsg and anything unknown: not needed to index or serve.
                await framer.SkipAsync(header, cancellationToken).ConfigureAwait(false);
                if (type == BoxTypes.Styp)
                {
                    _indexer.FlushAll(); // a segment boundary: what was gathered of the previous segment is complete
                }
                else if (type == BoxTypes.Mfra)
                {
                    SawEnd = true;
                }
            }
        }

        if (_pendingMoof is not null)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, "body ends after a 'moof' without its 'mdat': the partial fragment is discarded");
        }
    }

    private async Task OnMoofAsync(BoxFramer framer, BoxHeader header, CancellationToken cancellationToken)
    {
        if (!_indexer.HasHeader && feed.Connections > 1)
        {
            // Another request of this stream is still delivering the initialization: wait for it briefly.
            try
            {
                await feed.HeaderReady.WaitAsync(_headerWait, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // No initialization came: the fragment is refused below with a clear message.
            }
        }

        memory.Release(_pendingMoof?.Length ?? 0);
        _pendingMoof = await framer.ReadBoxAsync(header, null, cancellationToken).ConfigureAwait(false);
    }

    private async Task OnMdatAsync(BoxFramer framer, BoxHeader header, CancellationToken cancellationToken)
    {
        var moof = _pendingMoof ?? throw new PointRuleException(StatusCodes.Status400BadRequest, "'mdat' without a preceding 'moof'");
        var fragment = await framer.ReadFragmentAsync(header, moof, cancellationToken).ConfigureAwait(false);
        _indexer.ReceivedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        memory.Release(moof.Length);
        _pendingMoof = null;
        try
        {
            _indexer.Fragment(fragment, moof.Length);
        }
        finally
        {
            memory.Release(fragment.Length);
            fragment.Release();
        }
    }

    /// <summary>ftyp, the ISML manifest, moov, and prft (the encoder's wall clock of a media time: the timeline anchor).</summary>
    private async Task OnHeaderBoxAsync(BoxFramer framer, BoxHeader header, CancellationToken cancellationToken)
    {
        var box = await ReadHeaderBoxAsync(framer, header, cancellationToken).ConfigureAwait(false);
        if (header.Type == BoxTypes.Ftyp)
        {
            _prologue.Clear();
            _manifest = [];
            _prologue.Add(box);
        }
        else if (header.Type == BoxTypes.Uuid)
        {
            _manifest = ReadManifest(box.AsSpan(header.HeaderLength));
            _prologue.RemoveAll(b => BoxHeader.TryRead(b, out var h) && h.Type == BoxTypes.Uuid);
            _prologue.Add(box);
        }
        else if (header.Type == BoxTypes.Moov)
        {
            _indexer.Header(_prologue, _manifest, box);
        }
        else if (PrftBox.TryRead(box, out var prft))
        {
            _indexer.Prft = prft;
        }
    }

    private static ServerManifestTrack[] ReadManifest(ReadOnlySpan<byte> payload)
    {
        try
        {
            return [.. ServerManifest.Read(payload)];
        }
        catch (FormatException e)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"bad ISML server manifest: {e.Message}");
        }
    }

    private async ValueTask<byte[]> ReadHeaderBoxAsync(BoxFramer framer, BoxHeader header, CancellationToken cancellationToken)
    {
        // Kept with every archive run of the stream (ftyp and the ISML box too): each no larger than a real one could be
        // by far (a 'ftyp' of a thousand brands, a SMIL manifest of hundreds of tracks).
        var limit = header.Type == BoxTypes.Moov ? MaxHeaderBoxBytes
            : header.Type == BoxTypes.Uuid ? MaxManifestBoxBytes
            : header.Type == BoxTypes.Ftyp ? MaxFtypBytes
            : MaxOtherHeaderBoxBytes;
        if (header.Size > limit)
        {
            throw new PointRuleException(StatusCodes.Status413PayloadTooLarge, $"header box '{header.Type}' of {header.Size} bytes is over {limit}");
        }

        // Header boxes are small and kept with the archive: held only while they are read.
        var box = await framer.ReadBoxAsync(header, null, cancellationToken).ConfigureAwait(false);
        memory.Release(box.Length);
        return box;
    }
}
