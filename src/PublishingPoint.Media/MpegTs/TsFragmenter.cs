using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Timing;

namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// MPEG-TS in, fragmented MP4 out: runs a <see cref="TsDemuxer"/> and cuts its samples into single-track fragments.
/// Video fragments end at the first keyframe at or after the target duration; audio is cut at the presentation time
/// of those same keyframes (or on its own at the target duration when the program has no video). Each track gets an
/// initialization segment from <see cref="MovieWriter"/> once its configuration is known, and again when it changes.
/// Video is on <see cref="TsFragmenterOptions.VideoTimescale"/>, audio on its sample rate.
/// </summary>
public sealed class TsFragmenter : ITsDemuxerSink
{
    private readonly IFragmentSink _sink;
    private readonly TsFragmenterOptions _options;
    private readonly TsDemuxer _demuxer;
    private readonly FragmentBuffer _video;
    private readonly FragmentBuffer _audio;
    private readonly Queue<long> _audioBoundaries = new(); // presentation times (90 kHz) of video cuts
    private const int MaxPendingBoundaries = 64;

    private bool _programHasVideo;
    private bool _programHasAudio;
    private AvcDecoderConfiguration? _pendingVideoConfiguration;
    private AudioSpecificConfig? _audioConfiguration;
    private long _lastBoundary90k = long.MinValue;

    public TsFragmenter(IFragmentSink sink, TsFragmenterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
        _options = options ?? TsFragmenterOptions.Default;
        _demuxer = new TsDemuxer(this);
        _video = new FragmentBuffer(_options.VideoTrackId, TrackKind.Video);
        _audio = new FragmentBuffer(_options.AudioTrackId, TrackKind.Audio);
    }

    public TsDemuxer Demuxer => _demuxer;

    /// <summary>
    /// Bytes this demuxer and fragmenter hold in buffers (PES packets being assembled, fragments being gathered); they
    /// grow with the input and stay, so an ingest accounts for them as media it holds.
    /// </summary>
    public long BufferCapacity => _demuxer.BufferCapacity + _video.Capacity + _audio.Capacity;

    /// <summary>The video track as last announced by <see cref="IFragmentSink.OnInitSegment"/>, if any.</summary>
    public MovieTrack? VideoTrack { get; private set; }

    public MovieTrack? AudioTrack { get; private set; }

    public void Push(ReadOnlySpan<byte> transportStream) => _demuxer.Push(transportStream);

    /// <summary>End of input: emits the last, partial fragment of each track.</summary>
    public void Flush()
    {
        _demuxer.Flush();
        if (_suspectTime is { } suspect)
        {
            _suspectTime = null; // nothing came after it to say otherwise
            PlaceAudio(suspect, _suspect.AsSpan(0, _suspectLength));
        }

        if (_video.Count > 0)
        {
            var last = _video.LastDuration > 0 ? _video.LastDuration : Timescale.Rescale(3_600, 90_000, _options.VideoTimescale);
            if (_video.Count > 1)
            {
                last = _video.TimeAt(_video.Count - 1) - _video.TimeAt(_video.Count - 2);
            }

            Emit(_video, _video.Count, last);
        }

        while (_audioBoundaries.TryDequeue(out var boundary))
        {
            CutAudioBefore(boundary);
        }

        if (_audio.Count > 0)
        {
            Emit(_audio, _audio.Count, AudioFrameDuration);
        }
    }

    private int AudioFrameDuration => _audioConfiguration?.SamplesPerFrame ?? 1024;

    void ITsDemuxerSink.OnProgram(bool hasVideo, bool hasAudio)
    {
        _programHasVideo = hasVideo;
        _programHasAudio = hasAudio;
    }

    void ITsDemuxerSink.OnVideoConfiguration(AvcDecoderConfiguration configuration, bool changed)
    {
        if (VideoTrack is null)
        {
            AnnounceVideo(configuration);
        }
        else
        {
            _pendingVideoConfiguration = configuration; // takes effect at its keyframe, in a new fragment
        }
    }

    // An immediate splice (no time of its own) happens at the newest video seen.
    void ITsDemuxerSink.OnSpliceInfo(ReadOnlySpan<byte> section, long? time90k) => _sink.OnSpliceInfo(section, time90k ?? _lastDts90k);

    private long _lastDts90k;

    void ITsDemuxerSink.OnVideoAccessUnit(long dts90k, long pts90k, bool isKeyframe, ReadOnlySpan<byte> avcc)
    {
        _lastDts90k = dts90k;
        var timescale = _options.VideoTimescale;
        var dts = Timescale.Rescale(dts90k, Timescale.MpegTs, timescale);
        if (_video.LastTime is { } previous && dts <= previous)
        {
            dts = previous + 1; // never let decode time stand still or go back
        }

        var offset = (int)Math.Clamp(Timescale.Rescale(pts90k, Timescale.MpegTs, timescale) - dts, int.MinValue, int.MaxValue);
        if (isKeyframe && _video.Count > 0
            && (_pendingVideoConfiguration is not null || dts - _video.FirstTime >= Timescale.Rescale(_options.TargetDuration90k, Timescale.MpegTs, timescale)))
        {
            Emit(_video, _video.Count, dts - _video.LastTime!.Value);
            AddAudioBoundary(pts90k);
        }

        else if (_video.Count > 0
            && (_video.DataLength + avcc.Length > _options.MaxFragmentBytes
                || _video.Count >= _options.MaxFragmentSamples
                || dts - _video.FirstTime >= Timescale.Rescale(_options.MaxFragmentDuration90k, Timescale.MpegTs, timescale)))
        {
            // No keyframe to cut at for too long (or too many samples): emit what is held rather than hold more.
            Emit(_video, _video.Count, dts - _video.LastTime!.Value);
            AddAudioBoundary(pts90k);
        }

        if (isKeyframe && _pendingVideoConfiguration is { } configuration)
        {
            _pendingVideoConfiguration = null;
            AnnounceVideo(configuration);
        }

        _video.Add(dts, offset, isKeyframe, avcc);
    }

    void ITsDemuxerSink.OnAudioConfiguration(AudioSpecificConfig configuration, bool changed)
    {
        if (_audio.Count > 0)
        {
            Emit(_audio, _audio.Count, AudioFrameDuration);
        }

        if (_audioConfiguration is not null && _audioConfiguration.SamplingFrequency != configuration.SamplingFrequency)
        {
            _audio.ResetTimeline();
        }

        _audioConfiguration = configuration;
        AudioTrack = new MovieTrack
        {
            TrackId = _options.AudioTrackId,
            Timescale = (uint)configuration.SamplingFrequency,
            Aac = configuration,
        };
        _sink.OnInitSegment(AudioTrack, MovieWriter.Write(AudioTrack));
    }

    /// <summary>How far (in frames) an audio frame's time may be behind the frames placed before it is dropped.</summary>
    internal const int MaxAudioBehindFrames = 2;

    /// <summary>Audio frames dropped because their time was behind the frames already placed.</summary>
    public long DroppedAudioFrames { get; private set; }

    // A frame whose time jumped ahead of the audio placed, held until the next one says whether the jump was real.
    private byte[] _suspect = [];
    private int _suspectLength;
    private long? _suspectTime;

    void ITsDemuxerSink.OnAudioFrame(long pts90k, ReadOnlySpan<byte> rawFrame)
    {
        if (AudioTrack is null)
        {
            return;
        }

        var frame = AudioFrameDuration;
        var time = AudioTime(pts90k);
        if (_suspectTime is { } suspect)
        {
            // The frame after one that jumped ahead. Going on from the jumped frame, the jump was real (a gap in the
            // audio); going on from before it, it was one bad timestamp, and that frame's sound belongs in its place.
            _suspectTime = null;
            PlaceAudio(time < suspect - frame && _audio.LastTime is { } before ? before + frame : suspect, _suspect.AsSpan(0, _suspectLength));
        }

        if (_audio.LastTime is { } last)
        {
            if (time < last + frame - (MaxAudioBehindFrames * frame))
            {
                // Behind the frames already placed (an encoder's audio clock running slow): placed one frame on, it and
                // every later frame would drift behind the picture. Dropped until the audio's own time catches up.
                DroppedAudioFrames++;
                return;
            }

            if (time - (last + frame) < frame / 2)
            {
                // Contiguous (within half a frame, or overlapping a little): exactly one frame on, so durations stay 1024.
                time = last + frame;
            }
            else if (time > last + frame + (MaxAudioBehindFrames * frame))
            {
                if (_suspect.Length < rawFrame.Length)
                {
                    _suspect = new byte[Math.Max(rawFrame.Length, 2048)];
                }

                rawFrame.CopyTo(_suspect);
                _suspectLength = rawFrame.Length;
                _suspectTime = time;
                return;
            }
        }

        PlaceAudio(time, rawFrame);
    }

    private void PlaceAudio(long time, ReadOnlySpan<byte> rawFrame)
    {
        while (_audioBoundaries.TryPeek(out var boundary) && time >= AudioTime(boundary))
        {
            _audioBoundaries.Dequeue();
            CutAudioBefore(boundary);
        }

        var target = Timescale.Rescale(_options.TargetDuration90k, Timescale.MpegTs, AudioTrack!.Timescale);
        var waitLimit = Timescale.Rescale(_options.AudioWaitLimit90k, Timescale.MpegTs, AudioTrack.Timescale);
        if (_audio.Count > 0 && _audioBoundaries.Count == 0
            && ((!_programHasVideo && time - _audio.FirstTime >= target) || time - _audio.FirstTime >= waitLimit))
        {
            Emit(_audio, _audio.Count, time - _audio.LastTime!.Value);
        }

        _audio.Add(time, 0, sync: true, rawFrame);
    }

    private void AnnounceVideo(AvcDecoderConfiguration configuration)
    {
        VideoTrack = new MovieTrack
        {
            TrackId = _options.VideoTrackId,
            Timescale = _options.VideoTimescale,
            Avc = configuration,
        };
        _sink.OnInitSegment(VideoTrack, MovieWriter.Write(VideoTrack));
    }

    private void AddAudioBoundary(long pts90k)
    {
        if (pts90k <= _lastBoundary90k)
        {
            return;
        }

        _lastBoundary90k = pts90k;
        if (!_programHasAudio)
        {
            return;
        }

        if (_audioBoundaries.Count >= MaxPendingBoundaries)
        {
            _audioBoundaries.Dequeue(); // audio stalled: the oldest cut no longer matters
        }

        if (AudioTrack is not null && _audio.Count > 0 && _audio.LastTime >= AudioTime(pts90k))
        {
            CutAudioBefore(pts90k); // audio ran ahead of video in the multiplex
        }
        else
        {
            _audioBoundaries.Enqueue(pts90k);
        }
    }

    private long AudioTime(long time90k) => Timescale.Rescale(time90k, Timescale.MpegTs, AudioTrack!.Timescale);

    private void CutAudioBefore(long boundary90k)
    {
        if (AudioTrack is null)
        {
            return;
        }

        var boundary = AudioTime(boundary90k);
        var count = 0;
        while (count < _audio.Count && _audio.TimeAt(count) < boundary)
        {
            count++;
        }

        if (count == 0)
        {
            return;
        }

        var last = count < _audio.Count ? _audio.TimeAt(count) - _audio.TimeAt(count - 1) : AudioFrameDuration;
        Emit(_audio, count, last);
    }

    private void Emit(FragmentBuffer buffer, int count, long lastDuration)
    {
        var fragment = buffer.Take(count, lastDuration, _options.WithStyp);
        _sink.OnFragment(fragment);
    }
}
