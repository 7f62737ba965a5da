using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Tests.Transport;

public sealed class SpooledFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("spooled-").FullName;

    [Fact]
    public void TheCopy_IsUnlinked_AndReadsBackThroughItsHandle()
    {
        byte[] bytes = [.. Enumerable.Range(0, 70_000).Select(i => (byte)i)];
        using var file = SpooledFile.TryCreate(_folder, bytes);
        Assert.NotNull(file);
        Assert.Empty(Directory.GetFiles(_folder));
        Assert.Equal(bytes.Length, file.Length);
        var back = new byte[bytes.Length];
        Assert.Equal(bytes.Length, RandomAccess.Read(file.Handle, back, 0));
        Assert.Equal(bytes, back);
    }

    [Fact]
    public void ALease_KeepsTheHandleOpenPastDispose_UntilReleased_AndNoLeaseIsGivenAfterDispose_AndTheFileIsClosedOnce()
    {
        var disposed = 0;
        var file = SpooledFile.TryCreate(_folder, "segment"u8, () => disposed++)!;
        Assert.True(file.TryLease());
        file.Dispose();
        file.Dispose();
        Assert.Equal(0, disposed); // the descriptor is still open: it counts until the lease is released
        Assert.False(file.TryLease());

        var back = new byte[7];
        Assert.Equal(7, RandomAccess.Read(file.Handle, back, 0));
        Assert.Equal("segment"u8.ToArray(), back);
        Assert.False(file.Handle.IsClosed);

        file.Release();
        Assert.True(file.Handle.IsClosed);
        Assert.Equal(1, disposed);
    }

    [Fact]
    public void AMissingFolder_GivesNoCopy()
    {
        Assert.Null(SpooledFile.TryCreate(Path.Combine(_folder, "gone", "deeper"), "x"u8));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
