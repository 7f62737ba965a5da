using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.Tests.IsoBmff;

/// <summary>Sample tables of the shapes encoders write, packed and unpacked to the very same table, and smaller while packed.</summary>
public class PackedSamplesTests
{
    private const uint Sync = 0x0200_0000;
    private const uint NonSync = 0x0101_0000;

    public static readonly TheoryData<string, FragmentSample[]> Tables = new()
    {
        // ffmpeg's H.264 with B-frames: one keyframe, composition offsets (negative in a v1 'trun'), frames back to back.
        { "video with B-frames", Table(60, i => (1001, i % 3 == 1 ? 2002 : -1001, 4000 + (i * 37 % 900), i % 30 == 0 ? Sync : NonSync)) },
        { "AAC", Table(94, i => (1024, 0, 300 + (i * 13 % 80), Sync)) },
        { "varying durations", Table(12, i => ((uint)(3000 + (i % 2)), 0, 100, i == 0 ? Sync : NonSync)) },
        { "one sample", Table(1, _ => (3600, 0, 50_000, Sync)) },
        { "three flag values", Table(9, i => (512, 0, 64, i switch { 0 => Sync, 4 => 0x0001_0001u, _ => NonSync })) },
        { "65 samples across two bitmap words", Table(65, i => (1, 0, 1, i % 64 == 0 ? Sync : NonSync)) },
    };

    [Theory]
    [MemberData(nameof(Tables))]
    public void Unpack_GivesBackTheTablePacked(string shape, FragmentSample[] samples)
    {
        var packed = PackedSamples.TryPack(samples);

        Assert.NotNull(packed);
        Assert.Equal(samples.Length, packed.Count);
        Assert.True(samples.AsSpan().SequenceEqual(packed.Unpack()), shape);
    }

    [Fact]
    public void SamplesInTwoRuns_KeepTheirOwnDataOffsets()
    {
        // Two 'trun's: the second run's data starts 1000 bytes after the first run's end.
        var samples = Table(6, i => (1024, 0, 200, Sync));
        for (var i = 3; i < samples.Length; i++)
        {
            samples[i] = samples[i] with { DataOffset = samples[i].DataOffset + 1000 };
        }

        Assert.True(samples.AsSpan().SequenceEqual(PackedSamples.TryPack(samples)!.Unpack()));
    }

    [Fact]
    public void TablesThatCannotBeRebuilt_AreNotPacked()
    {
        var gap = Table(4, _ => (1024, 0, 10, Sync));
        gap[2] = gap[2] with { DecodeTime = gap[2].DecodeTime + 1 };

        Assert.Null(PackedSamples.TryPack(gap));
        Assert.Null(PackedSamples.TryPack([]));
    }

    [Fact]
    public void PackedVideoTable_TakesUnderAThirdOfTheArray()
    {
        // 4 s of 29.97 fps video with B-frames: sizes and composition offsets stay, 4 bytes each.
        var samples = Table(120, i => (1001, i % 3 == 1 ? 2002 : -1001, 4000, i == 0 ? Sync : NonSync));
        PackedSamples.TryPack(samples); // warm-up: what the first call allocates once is not the table's

        var before = GC.GetAllocatedBytesForCurrentThread();
        var packed = PackedSamples.TryPack(samples);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.NotNull(packed);
        var array = 24 + (samples.Length * 32);
        Assert.True(allocated < array / 3, $"{allocated} bytes packed against {array} for the array");
    }

    private static FragmentSample[] Table(int count, Func<int, (uint Duration, int Composition, int Size, uint Flags)> sample)
    {
        var samples = new FragmentSample[count];
        long decode = 900_000;
        var offset = 1200;
        for (var i = 0; i < count; i++)
        {
            var (duration, composition, size, flags) = sample(i);
            samples[i] = new FragmentSample(decode, duration, composition, size, flags, offset);
            decode += duration;
            offset += size;
        }

        return samples;
    }
}
