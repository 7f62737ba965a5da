using System.Buffers.Binary;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Archive;

/// <summary>
/// An index entry outside the memory window keeps no sample table and no 'trex' of its own: it reads the fragment again
/// from its archive, with the sample defaults of the archive's header, which a fragment that leaves its samples'
/// durations and sizes to 'trex' (legal, ISO/IEC 14496-12 8.8.3 and 8.8.7) needs.
/// </summary>
public sealed class ArchivedEntryTests
{
    private const uint TrackId = 7;
    private const int SampleCount = 4;
    private const int SampleSize = 300;
    private const uint SampleDuration = 3600;
    private static readonly SampleDefaults _trex = new(SampleDuration, SampleSize, SampleDefaults.NonSyncFlag);

    [Fact]
    public void AnEntryReadFromItsArchive_TakesTheSampleDefaultsOfTheArchivesHeader()
    {
        var folder = TempDirectory.Create("pp-archived-entry");
        using var files = new ArchiveFiles(4);
        var header = new ArchiveHeader
        {
            Bytes = new byte[] { 0, 0, 0, 8, (byte)'f', (byte)'r', (byte)'e', (byte)'e' },
            Moov = new byte[] { 0, 0, 0, 8, (byte)'m', (byte)'o', (byte)'o', (byte)'v' },
            Tracks = [new TrackInfo { TrackId = 1, Kind = TrackKind.Audio, Timescale = 48000, SampleEntry = FourCC.From("mp4a"), TrakBox = ReadOnlyMemory<byte>.Empty },
                      new TrackInfo { TrackId = TrackId, Kind = TrackKind.Video, Timescale = 90000, SampleEntry = FourCC.From("avc1"), TrakBox = ReadOnlyMemory<byte>.Empty, Defaults = _trex }],
            Manifest = [],
        };
        using var archive = StreamArchive.Create(Path.Combine(folder, "a.ismv"), header, fsync: false, files);
        var fragment = FragmentRelyingOnTrex(time: 180_000);
        var offset = archive.Append(fragment, TrackId, 180_000);
        var traf = MovieFragmentReader.Read(fragment.AsSpan(0, BinaryPrimitives.ReadInt32BigEndian(fragment)), _ => _trex)[0];
        var expected = FragmentTiming.Samples(fragment, fragment.Length, traf, _trex, 180_000);

        var entry = new FragmentEntry(180_000, SampleCount * SampleDuration, traf, expected, archive, offset, fragment.Length, data: null);

        Assert.False(entry.IsInMemory);
        var samples = entry.Samples;
        Assert.Equal(SampleCount, samples.Length);
        Assert.All(samples, s => Assert.Equal((SampleDuration, SampleSize), (s.Duration, s.Size)));
        Assert.Equal(expected, samples);
        Assert.Equal(expected, entry.SamplesIn(fragment));
        Assert.Equal(traf.SampleCount, entry.TrafIn(fragment).SampleCount);
    }

    // moof(mfhd, traf(tfhd: track ID and default-base-is-moof only, tfdt, trun: sample count and data offset only)) + mdat.
    private static byte[] FragmentRelyingOnTrex(long time)
    {
        const int tfhd = 16, tfdt = 20, trun = 20, traf = 8 + tfhd + tfdt + trun, mfhd = 16, moof = 8 + mfhd + traf;
        var bytes = new byte[moof + 8 + (SampleCount * SampleSize)];
        var at = 0;
        at = Boxes.WriteHeader(bytes, at, moof, "moof");
        at = Boxes.WriteHeader(bytes, at, mfhd, "mfhd");
        at = Int(bytes, Int(bytes, at, 0), 1);
        at = Boxes.WriteHeader(bytes, at, traf, "traf");
        at = Boxes.WriteHeader(bytes, at, tfhd, "tfhd");
        at = Int(bytes, Int(bytes, at, 0x02_0000), (int)TrackId);
        at = Boxes.WriteHeader(bytes, at, tfdt, "tfdt");
        at = Int(bytes, at, 0x0100_0000);
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(at), time);
        at += 8;
        at = Boxes.WriteHeader(bytes, at, trun, "trun");
        at = Int(bytes, Int(bytes, Int(bytes, at, 0x00_0001), SampleCount), moof + 8);
        Boxes.WriteHeader(bytes, at, bytes.Length - at, "mdat");
        return bytes;
    }


    private static int Int(byte[] bytes, int at, int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(at), value);
        return at + 4;
    }
}
