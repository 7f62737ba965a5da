using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Smooth;

namespace PublishingPoint.Server.Archive;

/// <summary>
/// A fragment found in an archive file. <see cref="Samples"/> is the whole table for each track's first fragment of the
/// file (what recovery reads: the decode shift, captions), its first sample alone for the rest: a whole file's tables
/// held at once (32 bytes a sample, and a sample may be one byte) could be more memory than the machine has.
/// </summary>
internal sealed record ScannedFragment(long Offset, int Length, int MoofLength, TrackFragment Traf, long Time, long Duration, FragmentSample[] Samples);

/// <summary>
/// What an archive file holds: its fragments up to <see cref="ValidLength"/> (where the 'mfra' starts, when there is
/// one), how many complete fragments could not be read (skipped, their bytes left in place) and how many bytes after
/// the last complete fragment do not form one (a crash mid-write).
/// </summary>
internal sealed record ScannedArchive(ArchiveHeader Header, IReadOnlyList<ScannedFragment> Fragments, long ValidLength, long? MfraOffset, long TornBytes, int Unreadable);

/// <summary>
/// Reads an archive back after a restart: header boxes, then moof+mdat pairs until the end, an 'mfra', or the first
/// incomplete one, without loading the media data. Boxes up to <c>maxBoxBytes</c> (the ingest limit) are read; a
/// fragment whose 'moof' does not parse is skipped and the scan goes on after its 'mdat'.
/// </summary>
internal static class ArchiveScanner
{
    private const int MaxHeaderBoxBytes = 4 * 1024 * 1024;

    // No 'mdat' ingest takes is larger (MaxBoxBytes' own bound), whatever the setting is now: an archive written under a
    // larger MaxBoxBytes than today's still reads, and a flipped size bit cannot make a fragment's length overflow.
    private const long MaxMdatBytes = 1024L * 1024 * 1024;
    private const double MaxTimeSeconds = 100.0 * 366 * 24 * 3600; // a century of timeline, as ingest

    /// <param name="maxFragmentSeconds">The longest fragment ingest takes (MaxFragmentLeadSeconds): a longer one is damage.</param>
    public static ScannedArchive? Scan(string path, long maxBoxBytes, double maxFragmentSeconds = double.PositiveInfinity)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var scan = new Scanning(file, maxBoxBytes, maxFragmentSeconds);
        while (scan.Next())
        {
        }

        return scan.Result();
    }

    /// <summary>
    /// When the file's media starts, in seconds: the time of its first readable fragment, read without scanning the
    /// rest. Null for a file with no fragment (or no header).
    /// </summary>
    public static double? FirstSeconds(string path, long maxBoxBytes)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var scan = new Scanning(file, maxBoxBytes, double.PositiveInfinity);
        while (scan.First is null && scan.Next())
        {
        }

        return scan.First;
    }

    /// <summary>One pass over a file: each step reads one header box, one moof+mdat pair, or stops.</summary>
    private sealed class Scanning(FileStream file, long maxBoxBytes, double maxFragmentSeconds)
    {
        private readonly long _length = file.Length;
        private readonly List<byte[]> _headerBoxes = [];
        private readonly List<ScannedFragment> _fragments = [];
        private readonly Dictionary<uint, ScannedFragment> _lastOfTrack = [];
        private readonly byte[] _headerBytes = new byte[BoxHeader.MaxHeaderLength];
        private byte[]? _moov;
        private List<TrackInfo> _tracks = [];
        private IReadOnlyList<ServerManifestTrack> _manifest = [];
        private Dictionary<uint, SampleDefaults> _defaults = [];
        private int _unreadable;
        private long _position;
        private long _valid;
        private long? _mfra;

        private long[]? _listed;

        /// <summary>
        /// Reads the box at the current position; false at the end, an 'mfra', or anything incomplete. In a finished file
        /// (one that ends with its 'mfra'), what cannot be read is damage, not a torn end: it is skipped to the next
        /// fragment the 'mfra' lists, so one bad size field does not cut off every fragment after it.
        /// </summary>
        public bool Next()
        {
            if (Step())
            {
                return true;
            }

            if (_position >= _length || _mfra is not null || _moov is null)
            {
                return false;
            }

            if (ListedAfter(_position) is not { } next)
            {
                return false;
            }

            _unreadable++;
            _position = next;
            return true;
        }

        // The first offset the file's 'mfra' lists after position (a fragment, or the 'mfra' itself); null when none, or no 'mfra'.
        private long? ListedAfter(long position)
        {
            _listed ??= SealedIndex.Read(file, maxBoxBytes);
            var at = Array.BinarySearch(_listed, position + 1);
            at = at < 0 ? ~at : at;
            return at < _listed.Length ? _listed[at] : null;
        }

        private bool Step()
        {
            if (_position >= _length || !TryHeaderAt(_position, out var header) || header.Size > _length - _position)
            {
                return false;
            }

            if (header.Type == BoxTypes.Moof)
            {
                return _moov is not null && header.Size <= maxBoxBytes && Fragment(header);
            }

            if (header.Type == BoxTypes.Mfra)
            {
                _mfra = _position;
                return false;
            }

            if (_moov is null && (header.Type == BoxTypes.Ftyp || header.Type == BoxTypes.Moov || header.Type == BoxTypes.Uuid))
            {
                if (header.Size > MaxHeaderBoxBytes)
                {
                    return false; // not a header ingest would have accepted
                }

                HeaderBox(header);
            }

            _position += header.Size;
            return true;
        }

        /// <summary>The first fragment's time in seconds once one was read.</summary>
        public double? First => _fragments.Count > 0 && _tracks.Find(t => t.TrackId == _fragments[0].Traf.TrackId) is { Timescale: > 0 } track
            ? (double)_fragments[0].Time / track.Timescale
            : null;

        public ScannedArchive? Result()
        {
            if (_moov is null)
            {
                return null;
            }

            var header = new ArchiveHeader
            {
                Bytes = _headerBoxes.SelectMany(b => b).ToArray(),
                Moov = _moov,
                Tracks = _tracks,
                Manifest = _manifest,
            };
            return new ScannedArchive(header, _fragments, _mfra ?? _valid, _mfra, _mfra is null ? _length - _valid : 0, _unreadable);
        }

        private bool Fragment(BoxHeader header)
        {
            var moof = ReadBox(file, _position, header.Size);
            var mdatAt = _position + header.Size;
            if (!TryHeaderAt(mdatAt, out var mdat) || mdat.Type != BoxTypes.Mdat || mdat.Size > _length - mdatAt || mdat.Size > MaxMdatBytes)
            {
                return false;
            }

            var length = header.Size + mdat.Size;
            if (ListedAfter(_position) < _position + length)
            {
                return false; // a size that swallows fragments the 'mfra' lists: damage
            }

            if (TryReadTraf(moof, _defaults, out var traf) && TrySamples(moof, length, traf, out var time, out var samples) && Plausible(traf, time))
            {
                var kept = _lastOfTrack.ContainsKey(traf.TrackId) && samples.Length > 1 ? samples[..1] : samples;
                var fragment = new ScannedFragment(_position, (int)length, moof.Length, traf, time, FragmentTiming.Duration(traf), kept);
                _fragments.Add(fragment);
                _lastOfTrack[traf.TrackId] = fragment;
            }
            else
            {
                _unreadable++;
            }

            _position = mdatAt + mdat.Size;
            _valid = _position;
            return true;
        }

        private void HeaderBox(BoxHeader header)
        {
            var box = ReadBox(file, _position, header.Size);
            _headerBoxes.Add(box);
            if (header.Type == BoxTypes.Uuid && header.UserType == BoxTypes.IsmlManifest)
            {
                _manifest = ServerManifest.Read(box.AsSpan(header.HeaderLength));
            }
            else if (header.Type == BoxTypes.Moov)
            {
                _moov = box;
                _tracks = MovieReader.Read(_moov);
                _defaults = _tracks.ToDictionary(t => t.TrackId, t => t.Defaults);
                _valid = _position + header.Size;
            }
        }

        // Times and durations ingest would have refused (a flipped bit in a sample duration: a fragment lasting days, after
        // which every later fragment of its track would be taken for one from the past) are damage: the fragment is skipped.
        private bool Plausible(TrackFragment traf, long time)
        {
            var timescale = (double)(_tracks.Find(t => t.TrackId == traf.TrackId)?.Timescale ?? 0);
            var duration = FragmentTiming.Duration(traf);
            return timescale > 0 && duration >= 0 && duration / timescale <= maxFragmentSeconds && Math.Abs(time / timescale) <= MaxTimeSeconds;
        }

        /// <summary>The fragment's time and samples by the same rule as ingest; false when its 'trun' does not hold together.</summary>
        private bool TrySamples(byte[] moof, long length, TrackFragment traf, out long time, out FragmentSample[] samples)
        {
            var previous = _lastOfTrack.GetValueOrDefault(traf.TrackId);
            time = FragmentTiming.Time(traf, previous is null ? null : previous.Time + previous.Duration);
            try
            {
                samples = FragmentTiming.Samples(moof, length, traf, _defaults.GetValueOrDefault(traf.TrackId), time);
                return true;
            }
            catch (InvalidBoxException)
            {
                samples = [];
                return false;
            }
        }

        private bool TryHeaderAt(long position, out BoxHeader header)
        {
            file.Position = position;
            var got = file.ReadAtLeast(_headerBytes, (int)Math.Min(_headerBytes.Length, _length - position), throwOnEndOfStream: false);
            return TryHeader(_headerBytes.AsSpan(0, got), out header);
        }
    }

    private static bool TryReadTraf(byte[] moof, Dictionary<uint, SampleDefaults> defaults, out TrackFragment traf)
    {
        try
        {
            var trafs = MovieFragmentReader.Read(moof, id => defaults.GetValueOrDefault(id));
            traf = trafs[0];
            return trafs.Count == 1;
        }
        catch (InvalidBoxException)
        {
            traf = null!;
            return false;
        }
    }

    private static bool TryHeader(ReadOnlySpan<byte> bytes, out BoxHeader header)
    {
        try
        {
            return BoxHeader.TryRead(bytes, out header);
        }
        catch (InvalidBoxException)
        {
            header = default;
            return false;
        }
    }

    private static byte[] ReadBox(FileStream file, long position, long size)
    {
        var box = new byte[size];
        file.Position = position;
        file.ReadExactly(box);
        return box;
    }
}
