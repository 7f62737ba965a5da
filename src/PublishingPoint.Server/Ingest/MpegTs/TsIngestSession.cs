using System.IO.Pipelines;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.MpegTs;
using PublishingPoint.Media.Timing;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest.MpegTs;

/// <summary>
/// Plain MPEG-TS pushed over a chunked POST (or a .ts file PUT by an HLS segmenter): demuxed in our own code,
/// cut into fragments on keyframes, and handed as fragmented MP4 straight to the stream's <see cref="StreamIndexer"/>,
/// as every other protocol is.
/// TS carries no bitrate, so each track's bitrate is measured on its first fragment (a stream id such as
/// "ch1-800k-96k" overrides it).
/// </summary>
internal sealed class TsIngestSession : IIngestSession, IFragmentSink
{
    private readonly StreamIndexer _indexer;
    private readonly StreamFeed _feed;
    private readonly TsFragmenter _fragmenter;
    private readonly Dictionary<uint, MovieTrack> _tracks = [];
    private readonly List<(uint TrackId, FragmentBuffer Bytes, long Duration)> _held = [];
    // Seconds held of each track with a fragment held: the header waits for every track, but not longer than MaxHeldSeconds.
    private readonly Dictionary<uint, double> _heldSeconds = [];

    /// <summary>
    /// The longest one track's fragments wait for another's first (an audio stream that stopped after a frame, video with
    /// no keyframe yet): then the header is written without that track's measure, and nothing waits any more.
    /// </summary>
    internal const double MaxHeldSeconds = 10;
    private readonly IngestMemoryAccount _memory;
    private readonly long _maxHeldBytes;
    private long _heldBytes;
    private long _bufferBytes;
    // What the buffers start with, as every connection's own (Kestrel's are not counted either); their growth counts.
    private readonly long _initialBuffers;
    private bool _headerWritten;

    public TsIngestSession(PointRegistry registry, Point point, StreamFeed feed, IngestMemoryAccount memory, IngestMetrics metrics, ILogger logger)
    {
        _indexer = new StreamIndexer(registry, point, feed, memory, metrics, logger);
        _feed = feed;
        _memory = memory;
        _maxHeldBytes = registry.Options.MaxBoxBytes;
        var options = new TsFragmenterOptions { TargetDuration90k = (long)(registry.Options.TsFragmentSeconds * 90_000) };
        _fragmenter = new TsFragmenter(this, options with { MaxFragmentBytes = (int)Math.Min(int.MaxValue, registry.Options.MaxBoxBytes / 2) });
        _initialBuffers = _fragmenter.BufferCapacity;
        if (feed.TsTimeline90k is { } last)
        {
            _fragmenter.Demuxer.ContinueTimeline(last);
        }
    }

    public long Accepted => _indexer.Accepted;

    public long Duplicates => _indexer.Duplicates;

    public bool SawEnd => false;

    public async Task RunAsync(PipeReader body, CancellationToken cancellationToken)
    {
        var complete = false;
        try
        {
            while (true)
            {
                var result = await body.ReadAsync(cancellationToken).ConfigureAwait(false);
                foreach (var segment in result.Buffer)
                {
                    _fragmenter.Push(segment.Span);
                }

                AccountBuffers();

                body.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    _fragmenter.Flush();
                    ReleaseHeld(force: true);
                    complete = true;
                    break;
                }
            }
        }
        finally
        {
            // A body that failed before every track had a fragment: what was held goes back, not indexed.
            DropHeld();
            _memory.Release(_bufferBytes);
            _indexer.Finish(complete);
        }
    }

    // The demuxer's and fragmenter's buffers grow with what is pushed (a PES up to 16 MB, a fragment up to half of
    // MaxBoxBytes, per track) and stay for the connection's life: media held, under the same bounds as the rest.
    private void AccountBuffers()
    {
        var now = _fragmenter.BufferCapacity - _initialBuffers;
        if (now > _bufferBytes)
        {
            _memory.Reserve(now - _bufferBytes);
            _bufferBytes = now;
        }
    }

    void IFragmentSink.OnInitSegment(MovieTrack track, ReadOnlyMemory<byte> initSegment)
    {
        var changed = _tracks.TryGetValue(track.TrackId, out var known) && !SameConfig(known, track);
        _tracks[track.TrackId] = track;
        if (changed)
        {
            _headerWritten = false; // a codec change starts a new archive with a new header
        }
    }

    void IFragmentSink.OnSpliceInfo(ReadOnlySpan<byte> section, long time90k) =>
        _indexer.Cue(section.ToArray(), Timescale.Rescale(time90k, Timescale.MpegTs, TimeSpan.TicksPerSecond));

    void IFragmentSink.OnFragment(in MediaFragment fragment)
    {
        var bytes = FragmentBufferPool.Shared.Rent(fragment.Data.Length);
        fragment.Data.Span.CopyTo(bytes.Span);
        if (_headerWritten)
        {
            try
            {
                Index(bytes);
            }
            finally
            {
                bytes.Release();
            }

            return;
        }

        // Held until every track has a fragment to measure its bitrate on; a track that never delivers one stops the wait.
        _memory.Reserve(bytes.Length);
        _held.Add((fragment.TrackId, bytes, fragment.Duration));
        _heldBytes += bytes.Length;
        var seconds = _heldSeconds.GetValueOrDefault(fragment.TrackId)
            + (_tracks.TryGetValue(fragment.TrackId, out var track) && track.Timescale > 0 ? (double)fragment.Duration / track.Timescale : 0);
        _heldSeconds[fragment.TrackId] = seconds;
        ReleaseHeld(force: _heldBytes > _maxHeldBytes || seconds >= MaxHeldSeconds);
    }

    /// <summary>Writes the header once every track has a first fragment to measure, then what was held back.</summary>
    private void ReleaseHeld(bool force)
    {
        if (_headerWritten || _held.Count == 0 || (!force && _tracks.Keys.Any(id => !_heldSeconds.ContainsKey(id))))
        {
            return;
        }

        var tracks = _tracks.Values.OrderBy(t => t.TrackId).Select(t => t with { AverageBitrate = Measure(t) is > 0 and var measured ? measured : Nominal(t) }).ToArray();
        if (!MatchesStreamHeader(tracks))
        {
            var header = MovieWriter.Write(tracks);
            _indexer.Header([header[..MovieWriter.FtypLength]], [], header[MovieWriter.FtypLength..]);
        }

        _headerWritten = true;
        try
        {
            foreach (var (_, bytes, _) in _held)
            {
                Index(bytes);
            }
        }
        finally
        {
            DropHeld();
        }
    }

    // The index keeps references of its own to what it took: the session's go back, with their memory reservation.
    private void DropHeld()
    {
        foreach (var (_, bytes, _) in _held)
        {
            bytes.Release();
        }

        _held.Clear();
        _heldSeconds.Clear();
        _memory.Release(_heldBytes);
        _heldBytes = 0;
    }

    // A track with nothing to measure yet is named by a typical bitrate of its kind (a stream id with bitrates names it instead).
    private static int Nominal(MovieTrack track) => track.Aac is not null ? 128_000 : 1_000_000;

    private void Index(FragmentBuffer fragment)
    {
        BoxHeader.TryRead(fragment.Span, out var moof);
        _indexer.ReceivedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var accepted = _indexer.Accepted;
        _indexer.Fragment(fragment, (int)moof.Size);
        if (_indexer.Accepted > accepted && _fragmenter.Demuxer.TimelineHighest is { } at)
        {
            // Only what the index took: an input it refused (a stray clock) must not move where the next one continues.
            _feed.NoteTsTimeline(at);
        }
    }

    private int Measure(MovieTrack track)
    {
        foreach (var (trackId, bytes, duration) in _held)
        {
            if (trackId == track.TrackId && duration > 0)
            {
                var bits = (double)bytes.Length * 8 * track.Timescale / duration;
                return (int)Math.Max(1000, Math.Round(bits / 1000) * 1000);
            }
        }

        return 0;
    }

    /// <summary>The next file of a segmented push continues the stream's archive when its codecs are unchanged.</summary>
    private bool MatchesStreamHeader(MovieTrack[] tracks)
    {
        if (_feed.Archive?.Header is not { } header || header.Tracks.Count != tracks.Length)
        {
            return false;
        }

        foreach (var track in tracks)
        {
            var info = header.Tracks.FirstOrDefault(t => t.TrackId == track.TrackId);
            if (info is null || !info.DecoderConfig.AsSpan().SequenceEqual(ConfigBytes(track)))
            {
                return false;
            }
        }

        return true;
    }

    private static bool SameConfig(MovieTrack a, MovieTrack b) => ConfigBytes(a).AsSpan().SequenceEqual(ConfigBytes(b));

    private static byte[] ConfigBytes(MovieTrack track)
    {
        if (track.Avc is AvcDecoderConfiguration avc)
        {
            var bytes = new byte[avc.GetRecordLength()];
            avc.Write(bytes);
            return bytes;
        }

        return track.Aac?.Bytes.ToArray() ?? [];
    }
}
